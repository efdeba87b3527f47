/** sagastream's public API. */
export { loadConfig, connectionEnv, type Config, type Connections } from "./config/index.js";
export * from "./errors/index.js";
export { createKafka, withAdmin, DLQ_HEADERS, deadLetterTopic } from "./kafka/index.js";
export * from "./schema/index.js";
export * from "./outbox/index.js";
export * from "./state/index.js";
export * from "./topology/index.js";
export { Stack } from "./stack/index.js";
