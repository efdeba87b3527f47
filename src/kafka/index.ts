/** kafkajs clients for sagastream, logging through pino. */
import { Kafka, logLevel as KafkaLogLevel, type KafkaConfig, type logCreator } from "kafkajs";
import type { Logger } from "../log/index.js";

export { DLQ_HEADERS, deadLetterHeaders, deadLetterTopic } from "./dead-letter.js";

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

function pinoLogCreator(logger: Logger): logCreator {
  return () =>
    ({ namespace, level, log }) => {
      const { message, ...extra } = log;
      logger[levels[level] ?? "info"]({ namespace, ...extra }, message);
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
