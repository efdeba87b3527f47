/** sagastream's public API. */
export { loadConfig, connectionEnv, type Config, type Connections } from "./config/index.js";
export {
  ErrorCode,
  SagastreamError,
  ConfigError,
  PrerequisiteError,
  PortBusyError,
  ComponentFailedError,
  ComponentNotReadyError,
  StackNotRunningError,
  UsageError,
} from "./errors/index.js";
export { createKafka } from "./kafka/index.js";
export { Stack } from "./stack/index.js";
