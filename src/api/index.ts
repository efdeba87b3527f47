/** The worker's HTTP API: saga queries routed to their owner, operator requests, metrics. */
export {
  startApiServer,
  type ApiServer,
  type ApiServerOptions,
  type SagaApiBackend,
} from "./server.js";
export {
  SagaQueries,
  ALL_STATUSES,
  sagaView,
  type SagaView,
  type SagaSummary,
} from "./saga-queries.js";
export { sagaMetrics } from "./metrics.js";
export {
  kafkaSagaHistory,
  type SagaHistoryReader,
  type HistoryEntry,
  type HistoryBounds,
} from "./saga-history.js";
export { apiTokensFromEnv, peerAuthorization, Scope, type ApiTokens } from "./auth.js";
