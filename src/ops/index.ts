/** Tools for analysts and operators: replaying topics over a range, decoded; capacity planning. */
export { describePosition, parsePosition, parseTime, type Position } from "./positions.js";
export { RangeReader, type PartitionSpan, type ReadRange } from "./range-reader.js";
export { plain, recordDecoder, UndecodableRecord, type ReplayRow } from "./record-decoder.js";
export { ReplayFormat, rowJson, rowSink, type RowSink } from "./row-sinks.js";
export {
  replay,
  type ReplayFilter,
  type ReplayOptions,
  type ReplayProgress,
  type ReplaySummary,
  type Undecodable,
} from "./replay.js";
export {
  readSagaHistory,
  sagaTimeline,
  type HistoryEvent,
  type SagaTimeline,
  type StepSpan,
  type TimelineRow,
} from "./timeline.js";
export {
  currentStep,
  rebuild,
  StoreSagas,
  type RebuildOptions,
  type RebuildSummary,
} from "./rebuild.js";
export {
  diffRuns,
  readStartedIn,
  recordedOutcomes,
  simulate,
  type RecordedOutcome,
  type WhatIfDiff,
  type WhatIfRun,
} from "./whatif.js";
export {
  capacityRows,
  formatNumber,
  planCapacity,
  type CapacityInput,
  type CapacityPlan,
} from "./capacity.js";
export {
  measuredThroughputFile,
  readMeasuredThroughput,
  recordMeasuredThroughput,
  type MeasuredThroughput,
} from "./measured-throughput.js";
export * from "./scaling.js";
export * from "./group-lag.js";
export * from "./scaling-monitor.js";
export * from "./topic-copier.js";
export * from "./app-topics.js";
export * from "./repartition-plan.js";
export {
  KeyCounter,
  keySkew,
  type KeyCount,
  type KeyCountProgress,
  type KeySkew,
} from "./key-skew.js";
export {
  estimateRepartition,
  formatRepartitionPlan,
  repartitionStages,
  type RepartitionEstimate,
  type RepartitionStage,
  type StagesInput,
} from "./repartition-plan-text.js";
export * from "./repartition.js";
export * from "./repartition-verify.js";
export {
  failover,
  failoverJournalTopic,
  FailoverStage,
  type FailoverJob,
  type FailoverOptions,
  type RegionEndpoint,
} from "./dr-failover.js";
export {
  failback,
  failbackJournalTopic,
  FailbackStage,
  type FailbackJob,
  type FailbackOptions,
} from "./dr-failback.js";
export { replicationLoss, type PartitionLoss } from "./replication-loss.js";
export {
  checkpointsTopic,
  decodeCheckpoint,
  isMirroredTopic,
  type Checkpoint,
} from "./mirror-internals.js";
export { GapBasis, type PartitionLog, type ReplicationGap } from "./replication-gap.js";
export type { GroupCheckpoint } from "./dr-checkpoints.js";
export {
  drStatus,
  type DrStatus,
  type DrStatusOptions,
  type PartitionStatus,
  type Rpo,
} from "./dr-status.js";
export { DrMonitor, DEFAULT_DR_INTERVAL_MS, type DrMonitorOptions } from "./dr-monitor.js";
export { registerDrMetrics } from "./dr-metrics.js";
export {
  decodeDeadLetter,
  readDeadLetters,
  redriveDeadLetters,
  redrivesTopic,
  REDRIVE_HEADERS,
  type DeadLetter,
  type DeadLetterFilter,
  type Redrive,
  type RedriveResult,
} from "./dead-letters.js";
