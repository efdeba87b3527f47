/** Services emit domain events through the outbox; Debezium publishes them. */
export {
  ConnectClient,
  ConnectError,
  type ConnectorConfig,
  type ConnectorStatus,
} from "./connect-client.js";
