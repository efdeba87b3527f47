/** The runtime's counters, read by the HTTP API later (records, commits, restoration, lag). */
export class AppMetrics {
  recordsProcessed = 0;
  commits = 0;
  commitLatencyMsTotal = 0;
  commitLatencyMsMax = 0;
  deadLetters = 0;
  restoredRecords = 0;
  readonly restorations: { task: string; records: number; seconds: number }[] = [];
  /** Where the processing loop's time goes (ms), and how much it fetched. */
  readonly loop = { fetchWaitMs: 0, processMs: 0, backPressureMs: 0, fetches: 0, records: 0 };
  /** Consumer lag by `topic/partition`, as of the last batch. */
  readonly lag = new Map<string, number>();

  recordCommit(latencyMs: number, records: number): void {
    this.commits += 1;
    this.recordsProcessed += records;
    this.commitLatencyMsTotal += latencyMs;
    this.commitLatencyMsMax = Math.max(this.commitLatencyMsMax, latencyMs);
  }
}
