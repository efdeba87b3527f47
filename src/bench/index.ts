/** Benchmarks and the running-total topology they (and the kill tests) use. */
export { topologyBenchmark } from "./topology-bench.js";
export { outboxBenchmark } from "./outbox-bench.js";
export { runningTotalTopology, TOTALS_STORE } from "./running-total.js";
export { sagaBenchmark } from "./saga-bench.js";
