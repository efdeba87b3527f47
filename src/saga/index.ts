/** Sagas: typed definitions, their pure logic (decide/evolve) and given/when/then scenarios. */
export {
  defineSaga,
  step,
  parallel,
  DEFAULT_RETRY,
  DEFAULT_STEP_TIMEOUT_MS,
  type CommandSpec,
  type RetryPolicy,
  type SagaDefinition,
  type SagaDefinitionInput,
  type Step,
  type StepInput,
  type ParallelInput,
} from "./definition.js";
export {
  SagaStatus,
  StepAction,
  TERMINAL_STATUSES,
  type SagaEvent,
  type SagaEventType,
  type SagaInput,
  type StepResult,
  type StepReply,
} from "./events.js";
export { evolve, fold, isActive, StepPhase, type SagaState, type StepState } from "./state.js";
export { decide, type Decision } from "./decide.js";
export { retryDelayMs } from "./backoff.js";
export { SagaScenario } from "./scenario.js";
export { type AnySagaDefinition } from "./definition.js";
export {
  sagaTopics,
  nameUuid,
  idempotencyKey,
  SAGA_HEADERS,
  type SagaTopics,
  type SagaCommand,
  type SagaReply,
  type SagaControl,
  type SagaEventRecord,
  type SagaDecision,
  eventsOf,
  decisionId,
} from "./messages.js";
export { SagaRegistry } from "./registry.js";
export { SAGA_STORES, type SagaRecord, type SagaObserver } from "./processor.js";
export { sagaRecordSerde } from "./record-serde.js";
export { DEFAULT_SAGA_LIMITS, cutReason, type SagaLimits } from "./limits.js";
export { avroSagaSerdes, jsonSagaSerdes, sagaDecisionReader, type SagaSerdes } from "./serdes.js";
export { SAGA_NAMESPACE } from "./avro-schemas.js";
export { sagaTopology, type SagaStart, type SagaTopologyOptions } from "./topology.js";
export { SagaIndex, SagaIndexes, type IndexedSaga } from "./saga-index.js";
export { indexKey } from "./store-keys.js";
export { timersOf, type TimerInput } from "./timers.js";
export { ensureSagaTopics } from "./topics.js";
export { followSagaEvents, type FollowedEvent } from "./follow-events.js";
export {
  decodeLayout,
  defaultRegion,
  DR_REGION,
  encodeLayout,
  generationId,
  generationTopic,
  initialLayout,
  LAYOUT_KEY,
  layoutTopic,
  layoutRegion,
  LayoutState,
  PRIMARY_REGION,
  runsIn,
  standingBy,
  type AppLayout,
} from "./generations.js";
export { sagaIdOfStoreKey } from "./parked-inputs.js";
export { LayoutLog } from "./layout-log.js";
