/** The Kafka-Streams-style topology: builder, processor API, tasks and the test driver. */
export {
  TopologyBuilder,
  Topology,
  StoreKind,
  changelogTopic,
  type Subtopology,
  type StoreSpec,
} from "./builder.js";
export {
  PunctuationType,
  type Processor,
  type ProcessorContext,
  type StreamRecord,
  type RecordMetadata,
  type Headers,
  type Punctuator,
  type Cancellable,
} from "./processor.js";
export { ErrorHandling, Task, type InputRecord, type OutputRecord } from "./task.js";
export { TopologyTestDriver, type TestRecord, type TestDriverOptions } from "./test-driver.js";
export { partitionForKey } from "../kafka/index.js";
export {
  DEFAULT_COMMIT_INTERVAL_MS,
  StreamsApp,
  ProcessingGuarantee,
  type StreamsAppOptions,
} from "./app.js";
export { AppMetrics, StuckPartitions, type StuckPartition, type TaskOpening } from "./metrics.js";
export {
  KafkaPartitionFetcher,
  type FetchPosition,
  type FetchedPartition,
  type PartitionFetcher,
} from "./partition-fetcher.js";
export type { CommittedRecord } from "./committed-records.js";
export {
  copartitionedAssigner,
  planAssignment,
  decodeMemberState,
  encodeMemberState,
  COPARTITIONED_ASSIGNER,
  STANDBY_TOPIC,
  type MemberState,
} from "./assigner.js";
