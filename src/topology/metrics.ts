export interface TaskOpening {
  task: string;
  records: number;
  seconds: number;
  /** Its stores' local copy was used from a checkpoint, or restored from the changelogs' start. */
  from: "checkpoint" | "changelog start";
}

/** Where an input cannot advance, and since when: for /health and the metrics. */
export interface StuckPartition {
  /** `topic/partition`, or `task <id>` for a task that cannot open. */
  where: string;
  since: number;
  reason: string;
}

/** The inputs that cannot advance now (a registry out of reach, a task that cannot open). */
export class StuckPartitions {
  private readonly entries = new Map<string, StuckPartition>();

  /** Keeps the first `since` while it stays stuck; the reason is the latest. */
  mark(where: string, reason: string, now: number): void {
    this.entries.set(where, { where, since: this.entries.get(where)?.since ?? now, reason });
  }

  /** It advanced (cheap when nothing is stuck: called per processed batch). */
  clear(where: string): void {
    if (this.entries.size > 0) this.entries.delete(where);
  }

  list(): StuckPartition[] {
    return [...this.entries.values()];
  }
}

/** The runtime's counters, read by the HTTP API later (records, commits, restoration, lag). */
export class AppMetrics {
  recordsProcessed = 0;
  commits = 0;
  commitLatencyMsTotal = 0;
  commitLatencyMsMax = 0;
  deadLetters = 0;
  restoredRecords = 0;
  /** Each task opening: the records it restored, how long it took, and from where. */
  readonly restorations: TaskOpening[] = [];
  /** Where the processing loop's time goes (ms), and how much it fetched. */
  readonly loop = { fetchWaitMs: 0, processMs: 0, backPressureMs: 0, fetches: 0, records: 0 };
  /** Changelog records each task still restoring has left to read, by task id. */
  readonly restoring = new Map<string, number>();
  /** Consumer lag by `topic/partition`, as of the last batch. */
  readonly lag = new Map<string, number>();
  readonly stuck = new StuckPartitions();

  recordCommit(latencyMs: number, records: number): void {
    this.commits += 1;
    this.recordsProcessed += records;
    this.commitLatencyMsTotal += latencyMs;
    this.commitLatencyMsMax = Math.max(this.commitLatencyMsMax, latencyMs);
  }
}
