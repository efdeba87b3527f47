/** Benchmarks and the running-total topology they (and the kill tests) use. */
export { DEFAULT_PIPE_CLIENTS, topologyBenchmark } from "./topology-bench.js";
export { PipeClient } from "./raw-pipe.js";
export { outboxBenchmark } from "./outbox-bench.js";
export { runningTotalTopology, TOTALS_STORE } from "./running-total.js";
export { sagaBenchmark } from "./saga-bench.js";
export { failoverBenchmark } from "./failover-bench.js";
export { soakBenchmark } from "./soak-bench.js";
export { replayBenchmark } from "./replay-bench.js";
export { cli, formatDrDrill, runDrDrill, type DrDrillReport, type DrDrillRun } from "./dr-bench.js";
export { consoleBenchmark } from "./console-bench.js";
