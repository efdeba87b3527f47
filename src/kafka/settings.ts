/**
 * What every Kafka client of the engine is made from: a plain value, passed around instead of
 * a client object, so that each part creates (and closes) the clients it needs.
 */
import { readFileSync } from "node:fs";
import type { BaseOptions } from "@platformatic/kafka";
import { kafkaSecurityFromEnv, type KafkaSecurity } from "../config/index.js";
import type { Logger } from "../log/index.js";
import { clientRetryDelay, CLIENT_RETRIES } from "./retry.js";

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  /** SASL and TLS; without it, the process's default (see `setDefaultKafkaSecurity`). */
  security?: KafkaSecurity | undefined;
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
    ...securityOptions(settings.security),
  };
}

let defaultSecurity: (() => KafkaSecurity) | undefined;
let resolvedDefault: KafkaSecurity | undefined;

/**
 * The security of clients whose settings carry none (parts that take only a broker list,
 * such as the saga worker's runtime): set by the CLI from its configuration (a `--secure`
 * local stack included); else read once from the KAFKA_SECURITY_PROTOCOL & co. env keys.
 * A function is called when the first such client is made.
 */
export function setDefaultKafkaSecurity(
  security: KafkaSecurity | (() => KafkaSecurity) | undefined,
): void {
  defaultSecurity = typeof security === "object" ? () => security : security;
  resolvedDefault = undefined;
}

function processDefault(): KafkaSecurity {
  resolvedDefault ??= defaultSecurity?.() ?? kafkaSecurityFromEnv(process.env);
  return resolvedDefault;
}

/** The security a client made from `settings` uses: theirs, or the process's default. */
export function effectiveSecurity(settings: Pick<KafkaSettings, "security">): KafkaSecurity {
  return settings.security ?? processDefault();
}

/**
 * The client options of `security` (the process's default when undefined): TLS with the CA,
 * certificate and key read from their PEM files, and SASL with the user's credentials.
 */
export function securityOptions(
  security: KafkaSecurity | undefined,
): Pick<BaseOptions, "sasl" | "tls"> {
  const s = security ?? processDefault();
  const options: Pick<BaseOptions, "sasl" | "tls"> = {};
  if (s.protocol === "SSL" || s.protocol === "SASL_SSL") {
    const tls: NonNullable<BaseOptions["tls"]> = {};
    const { caFile, certFile, keyFile } = s.tls ?? {};
    if (caFile !== undefined) tls.ca = readFileSync(caFile, "utf8");
    if (certFile !== undefined) tls.cert = readFileSync(certFile, "utf8");
    if (keyFile !== undefined) tls.key = readFileSync(keyFile, "utf8");
    options.tls = tls;
  }
  if ((s.protocol === "SASL_PLAINTEXT" || s.protocol === "SASL_SSL") && s.sasl !== undefined) {
    const { mechanism, username, password } = s.sasl;
    options.sasl = { mechanism, username, password };
  }
  return options;
}
