/**
 * kafkajs, kept only for the benchmarks: the kafkajs raw pipe (which compares the clients) and,
 * until they move, the saga and topology benchmarks (and followSagaEvents, which the saga
 * benchmark hands a kafkajs client). They import these names from this file, not from the
 * folder's entry; nothing new may import it.
 */
import {
  Kafka,
  logLevel as KafkaLogLevel,
  type KafkaConfig,
  type logCreator,
  type Transaction,
} from "kafkajs";
import pRetry from "p-retry";
import type { KafkaSecurity } from "../config/index.js";
import type { Logger } from "../log/index.js";
import { securityOptions } from "./settings.js";

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  /** Without a logger kafkajs stays silent (used for readiness probes that expect failures). */
  logger?: Logger;
  connectionTimeoutMs?: number;
  retries?: number;
  /** SASL and TLS, as the engine's clients take them (default: the process's). */
  security?: KafkaSecurity;
}

const levels: Record<number, "error" | "warn" | "info" | "debug"> = {
  [KafkaLogLevel.ERROR]: "error",
  [KafkaLogLevel.WARN]: "warn",
  [KafkaLogLevel.INFO]: "info",
  [KafkaLogLevel.DEBUG]: "debug",
};

/**
 * Retries of the engine's idempotent and transactional producers. kafkajs waits 300 ms before
 * its first retry; a busy task's next transaction mostly meets CONCURRENT_TRANSACTIONS (the
 * broker is still writing the previous one's markers), gone within milliseconds, which the
 * Java client retries after 20 ms. The count bounds a send to about two minutes, like the Java
 * client's delivery.timeout.ms; a send that gives up fails its transaction, which aborts.
 */
export const PRODUCER_RETRY = { initialRetryTime: 20, maxRetryTime: 1000, retries: 125 } as const;

/**
 * Adds consumed offsets to a transaction. kafkajs retries a send's AddPartitionsToTxn, not
 * AddOffsetsToTxn: a transaction holding offsets only, begun while the broker still writes the
 * previous one's markers, met CONCURRENT_TRANSACTIONS and failed (its task then reopened and
 * redid its interval). Retriable errors are retried here as PRODUCER_RETRY retries sends.
 */
export function sendOffsetsInTransaction(
  tx: Transaction,
  offsets: Parameters<Transaction["sendOffsets"]>[0],
): Promise<void> {
  return pRetry(() => tx.sendOffsets(offsets), {
    retries: PRODUCER_RETRY.retries,
    minTimeout: PRODUCER_RETRY.initialRetryTime,
    maxTimeout: PRODUCER_RETRY.maxRetryTime,
    shouldRetry: ({ error }) => (error as { retriable?: unknown }).retriable === true,
  });
}

/**
 * Answers kafkajs retries as a matter of course but logs as errors: CONCURRENT_TRANSACTIONS
 * (see PRODUCER_RETRY) and a group coordinator not yet available (right after a broker
 * starts). They are logged at debug, and so is kafkajs's warning that PRODUCER_RETRY's bounded
 * count "may invalidate EoS": our sends either fail their transaction or are deduplicated by
 * message id downstream.
 */
const RETRIED_AS_USUAL =
  /another concurrent operation on the same transaction was ongoing|The group coordinator is not available|Limiting retries for the idempotent producer/;

function pinoLogCreator(logger: Logger): logCreator {
  return () =>
    ({ namespace, level, log }) => {
      const { message, ...extra } = log;
      const routine =
        RETRIED_AS_USUAL.test(message) || RETRIED_AS_USUAL.test(String(extra.error ?? ""));
      logger[routine ? "debug" : (levels[level] ?? "info")]({ namespace, ...extra }, message);
    };
}

export function createKafka(options: KafkaClientOptions): Kafka {
  const config: KafkaConfig = {
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: options.connectionTimeoutMs ?? 3000,
    retry: { retries: options.retries ?? 5 },
    logLevel: options.logger === undefined ? KafkaLogLevel.NOTHING : KafkaLogLevel.INFO,
  };
  if (options.logger !== undefined) config.logCreator = pinoLogCreator(options.logger);
  const { tls, sasl } = securityOptions(options.security);
  if (tls !== undefined) config.ssl = tls;
  if (sasl !== undefined) {
    const { username, password } = sasl as { username: string; password: string };
    config.sasl =
      sasl.mechanism === "PLAIN"
        ? { mechanism: "plain", username, password }
        : sasl.mechanism === "SCRAM-SHA-256"
          ? { mechanism: "scram-sha-256", username, password }
          : { mechanism: "scram-sha-512", username, password };
  }
  return new Kafka(config);
}

/** Runs `fn` with a connected admin client and always disconnects it. */
export async function withAdmin<T>(
  kafka: Kafka,
  fn: (admin: ReturnType<Kafka["admin"]>) => Promise<T>,
): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}
