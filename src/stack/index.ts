/** The local real stack: Kafka, DR Kafka, schema registry, Connect/Debezium, MM2, PostgreSQL. */
export { ComponentName } from "./component.js";
export {
  HEARTBEATS_TOPIC,
  PRIMARY_ALIAS,
  DR_ALIAS,
  excludeFromMirror,
} from "./components/mirror-maker.js";
export { REGISTRY_JOURNAL_TOPIC } from "./components/registry.js";
export { POSTGRES_CONNECTOR_CLASS, PRIMARY_CONNECT_CONFIGS_TOPIC } from "./components/connect.js";
export type { Reporter } from "./reporter.js";
export { Stack, type ComponentStatus, type UpOptions, type UpResult } from "./stack.js";
