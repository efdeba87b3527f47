/** The worker's HTTP API: saga queries routed to their owner, operator requests, metrics. */
export { startApiServer, type ApiServer, type ApiServerOptions, type ApiUi } from "./server.js";
export { type SagaApiBackend, type WorkerStatus } from "./group-queries.js";
export {
  SagaQueries,
  ALL_STATUSES,
  listCursor,
  sagaView,
  type ListFilter,
  type SagaView,
  type SagaSummary,
} from "./saga-queries.js";
export { listQuery, parseListQuery } from "./list-query.js";
export { HttpError } from "./http-error.js";
export { BATCH_STATUSES, type BatchAction, type BatchReport, type BatchRequest } from "./batch.js";
export { type GroupQueries } from "./group-queries.js";
export { sagaMetrics } from "./metrics.js";
export {
  kafkaSagaHistory,
  type SagaHistoryReader,
  type HistoryEntry,
  type HistoryBounds,
} from "./saga-history.js";
export { apiTokensFromEnv, peerAuthorization, Scope, scopeOf, type ApiTokens } from "./auth.js";
