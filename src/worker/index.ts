/** The saga engine worker: runtime, saga topology and HTTP API together. */
export { SagaWorker, type SagaWorkerOptions } from "./saga-worker.js";
