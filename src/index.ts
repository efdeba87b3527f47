/**
 * sagastream's public API: what services, saga authors and tools import. Internals (tasks,
 * byte stores, wire-format helpers, the stack's components) stay inside their folders.
 */
export {
  loadConfig,
  connectionEnv,
  kafkaSecurityEnv,
  type Config,
  type Connections,
  type KafkaSecurity,
} from "./config/index.js";
export {
  ErrorCode,
  SagastreamError,
  CommandRefusedError,
  CircuitOpenError,
  toError,
  type RecordOrigin,
} from "./errors/index.js";
export {
  createAdmin,
  createConsumer,
  createProducer,
  DLQ_HEADERS,
  deadLetterTopic,
  setDefaultKafkaSecurity,
  startConsuming,
  topicOffsets,
  withAdmin,
  type ConsumedRecord,
  type Consuming,
  type ConsumingOptions,
  type KafkaSettings,
} from "./kafka/index.js";
export { withTransaction } from "./db/index.js";
export {
  AvroCodec,
  avroSerde,
  Compatibility,
  createSchemaRegistry,
  loadSchemaDirectory,
  registerSchemaFiles,
  subjectFor,
  type SchemaFile,
} from "./schema/index.js";
export {
  createOutbox,
  startEventConsumer,
  migrateInbox,
  outboxConnectorConfig,
  deployOutboxPipeline,
  removeOutboxPipeline,
  replicationRoleOf,
  ConnectClient,
  type Outbox,
  type OutboxEvent,
  type DomainEvent,
  type EventConsumerOptions,
} from "./outbox/index.js";
export {
  startTracing,
  flushTracing,
  stopTracing,
  tracingEnabled,
  useGlobalTracerProvider,
  type StartTracingOptions,
} from "./tracing/index.js";
export { Serdes, type Serde, type ReadableStore, type WritableStore } from "./state/index.js";
export {
  TopologyBuilder,
  StreamsApp,
  ProcessingGuarantee,
  ErrorHandling,
  PunctuationType,
  TopologyTestDriver,
  type Processor,
  type ProcessorContext,
  type StreamRecord,
  type StreamsAppOptions,
} from "./topology/index.js";
export {
  defineSaga,
  step,
  parallel,
  SagaStatus,
  StepAction,
  SagaScenario,
  decide,
  evolve,
  fold,
  sagaTopics,
  jsonSagaSerdes,
  avroSagaSerdes,
  followSagaEvents,
  sagaDecisionReader,
  type FollowedEvent,
  type SagaDecision,
  type SagaSerdes,
  type SagaDefinition,
  type SagaStart,
  type SagaState,
  type SagaEvent,
  type SagaCommand,
  type SagaReply,
  type StepResult,
  type RetryPolicy,
} from "./saga/index.js";
export { SagaWorker, type SagaWorkerOptions } from "./worker/index.js";
export {
  createParticipant,
  type Participant,
  type ParticipantOptions,
  type CommandHandler,
  type CommandContext,
} from "./participant/index.js";
export { createLogger, type Logger } from "./log/index.js";
export { formatTable, percentile, waitUntil } from "./util/index.js";
export { Stack } from "./stack/index.js";
export {
  failback,
  failover,
  replicationLoss,
  type FailbackJob,
  type FailoverJob,
  type PartitionLoss,
  type RegionEndpoint,
} from "./ops/index.js";
