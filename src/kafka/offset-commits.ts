/**
 * The offsets a consumer may commit: only those of records whose effects are durable, marked
 * by the caller once they are, and committed in batches. Per partition the offset only moves
 * forward; a commit that fails keeps its offsets for the next attempt.
 */
import type { CommitOptionsPartition } from "@platformatic/kafka";

export interface OffsetCommitter {
  commit(options: { offsets: CommitOptionsPartition[] }): Promise<void>;
}

export class OffsetCommits {
  private readonly marked = new Map<string, CommitOptionsPartition>();
  private inFlight: Promise<void> | undefined;

  /** `offset` is the next record to read: the handled record's offset + 1. */
  mark(topic: string, partition: number, offset: bigint, leaderEpoch: number): void {
    const key = `${topic}:${partition}`;
    const current = this.marked.get(key);
    if (current === undefined || current.offset < offset) {
      this.marked.set(key, { topic, partition, offset, leaderEpoch });
    }
  }

  get pending(): number {
    return this.marked.size;
  }

  /**
   * Commits what is marked; one commit at a time (a call during one waits for it, then commits
   * what was marked meanwhile). Rejects if the commit failed; its offsets stay marked.
   */
  async flush(committer: OffsetCommitter): Promise<void> {
    while (this.inFlight !== undefined) await this.inFlight.catch(() => undefined);
    if (this.marked.size === 0) return;
    const offsets = [...this.marked.values()];
    this.marked.clear();
    this.inFlight = committer.commit({ offsets }).catch((error: unknown) => {
      for (const o of offsets) this.mark(o.topic, o.partition, o.offset, o.leaderEpoch);
      throw error;
    });
    try {
      await this.inFlight;
    } finally {
      this.inFlight = undefined;
    }
  }
}
