/** pino, with one child logger per component; secrets in connection strings are redacted. */
import { pino, type Logger } from "pino";
import type { LogLevel } from "../config/index.js";

export type { Logger } from "pino";

export function createLogger(level: LogLevel, name = "sagastream"): Logger {
  return pino({
    name,
    level,
    redact: { paths: ["password", "*.password", "sasl", "*.sasl"], censor: "[redacted]" },
  });
}
