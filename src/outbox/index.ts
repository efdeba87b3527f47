/** Services emit domain events through the outbox; Debezium publishes them. */
export {
  ConnectClient,
  ConnectError,
  type ConnectorConfig,
  type ConnectorStatus,
} from "./connect-client.js";
export {
  createOutbox,
  outboxTable,
  publicationName,
  type Outbox,
  type OutboxEvent,
  type OutboxOptions,
  replicationRoleOf,
  type ReplicationRole,
} from "./outbox.js";
export {
  outboxConnectorConfig,
  OUTBOX_HEADERS,
  slotName,
  type OutboxConnectorOptions,
} from "./connector-config.js";
export {
  deployOutboxPipeline,
  removeOutboxPipeline,
  slotActive,
  type OutboxPipelineOptions,
} from "./pipeline.js";
export {
  startEventConsumer,
  migrateInbox,
  type DomainEvent,
  type EventConsumerOptions,
} from "./event-consumer.js";
