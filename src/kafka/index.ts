/** kafkajs clients for sagastream, logging through pino. */
import { Kafka, logLevel as KafkaLogLevel, type KafkaConfig, type logCreator } from "kafkajs";
import type { Logger } from "../log/index.js";

export {
  DLQ_HEADERS,
  deadLetterHeaders,
  deadLetterTopic,
  ensureDeadLetterTopic,
  sendDeadLetter,
} from "./dead-letter.js";

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  /** Without a logger kafkajs stays silent (used for readiness probes that expect failures). */
  logger?: Logger;
  connectionTimeoutMs?: number;
  retries?: number;
}

const levels: Record<number, "error" | "warn" | "info" | "debug"> = {
  [KafkaLogLevel.ERROR]: "error",
  [KafkaLogLevel.WARN]: "warn",
  [KafkaLogLevel.INFO]: "info",
  [KafkaLogLevel.DEBUG]: "debug",
};

/**
 * Answers kafkajs retries as a matter of course but logs as errors: CONCURRENT_TRANSACTIONS
 * (the previous transaction's markers are still being written when a busy task starts the
 * next one) and a group coordinator not yet available (right after a broker starts). They are
 * logged at debug.
 */
const RETRIED_AS_USUAL =
  /another concurrent operation on the same transaction was ongoing|The group coordinator is not available/;

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
