/**
 * What every Kafka client of the engine is made from: a plain value, passed around instead of
 * a client object, so that each part creates (and closes) the clients it needs.
 */
import type { BaseOptions } from "@platformatic/kafka";
import type { Logger } from "../log/index.js";
import { clientRetryDelay, CLIENT_RETRIES } from "./retry.js";

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  /** Client events and errors go here; without one the clients stay silent (readiness probes). */
  logger?: Logger;
}

/** Options every client shares; `overrides` are validated by the client itself. */
export interface ClientOptions {
  /** How long a connection attempt may take (default 5 s). */
  connectTimeoutMs?: number;
  /** How long a request may wait for its response (default 30 s, like the Java client). */
  requestTimeoutMs?: number;
  /** Retries of a retriable error within one operation (default CLIENT_RETRIES). */
  retries?: number;
}

export function baseOptions(settings: KafkaSettings, options: ClientOptions = {}): BaseOptions {
  if (settings.brokers.length === 0) {
    throw new Error("KafkaSettings.brokers is empty: name at least one broker (host:port)");
  }
  return {
    clientId: settings.clientId,
    bootstrapBrokers: settings.brokers,
    connectTimeout: options.connectTimeoutMs ?? 5_000,
    timeout: options.requestTimeoutMs ?? 30_000,
    retries: options.retries ?? CLIENT_RETRIES,
    retryDelay: clientRetryDelay,
  };
}
