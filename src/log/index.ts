/**
 * pino, with one child logger per component. No secret reaches a log: fields named like a
 * secret (password, token, secret, sasl, authorization ...) are censored at any depth, and the
 * credentials in a connection string (`postgres://user:pw@host`) become `***`, in fields, in
 * messages and in errors' messages and stacks.
 */
import {
  pino,
  stdSerializers,
  type DestinationStream,
  type Logger,
  type LoggerOptions,
} from "pino";
import type { LogLevel } from "../config/index.js";

export type { Logger } from "pino";

export const CENSORED = "[redacted]";

/** Keys whose values are never logged (compared case-insensitively, `_` and `-` ignored). */
const SECRET_KEY = /^(passwd|pwd|authorization|cookie|sasl|privatekey|.*(password|secret|token))$/;

function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key.toLowerCase().replace(/[-_]/g, ""));
}

const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s@/]+@/gi;

/** `text` with the password of every URL in it replaced by `***`. */
export function redactText(text: string): string {
  return text.replace(URL_CREDENTIALS, "$1:***@");
}

/** A copy of `value` with secret-named fields censored and URL credentials masked. */
export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return redactText(value);
  if (value === null || typeof value !== "object" || depth > 6) return value;
  if (value instanceof Error) return value; // the err serializer redacts it
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = isSecretKey(key) && v !== undefined ? CENSORED : redactValue(v, depth + 1);
  }
  return out;
}

function redactError(error: Error): Record<string, unknown> {
  const serialized = stdSerializers.err(error) as unknown as Record<string, unknown>;
  return redactValue(serialized) as Record<string, unknown>;
}

/** A logger writing JSON lines to `destination` (default stdout). */
export function createLogger(
  level: LogLevel,
  name = "sagastream",
  destination?: DestinationStream,
): Logger {
  const options: LoggerOptions = {
    name,
    level,
    // The fast path for the usual places; redactValue below covers any depth.
    redact: {
      paths: ["password", "*.password", "token", "*.token", "secret", "*.secret", "sasl", "*.sasl"],
      censor: CENSORED,
    },
    serializers: { err: redactError, error: redactError },
    formatters: {
      log: (object) => redactValue(object) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        const redacted = args.map((a) => (typeof a === "string" ? redactText(a) : a)) as Parameters<
          typeof method
        >;
        method.apply(this, redacted);
      },
    },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
