/**
 * A task's local directory: its RocksDB stores and its checkpoint, the changelog offset each
 * store is complete up to (its engine holds only committed writes, so one ahead of its
 * checkpoint is restored from it alike). Written at a clean close, every few seconds while the
 * task runs, by a standby copy, and when a restore is interrupted; deleted when the task opens.
 * With none, the stores are wiped and restored from the changelogs' start.
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";

const CHECKPOINT = ".checkpoint";
/**
 * An older checkpoint is not trusted: a compacted changelog drops a tombstone after
 * delete.retention.ms (24 h by default), and a copy restored from further back would keep the
 * keys deleted meanwhile.
 */
export const MAX_CHECKPOINT_AGE_MS = 12 * 60 * 60 * 1000;

export class TaskDirectory {
  constructor(readonly root: string) {}

  storeDir(store: string): string {
    return path.join(this.root, "stores", store);
  }

  /** Reads and deletes the checkpoint: from now on the stores will change. */
  async takeCheckpoint(): Promise<Map<string, bigint> | undefined> {
    const checkpoint = await this.readCheckpoint();
    await rm(path.join(this.root, CHECKPOINT), { force: true });
    return checkpoint;
  }

  /**
   * Reads the checkpoint and leaves it (a standby copy's: its stores only ever move forward
   * along their changelogs, so a copy ahead of its checkpoint replays what it has, alike).
   */
  async readCheckpoint(): Promise<Map<string, bigint> | undefined> {
    const file = path.join(this.root, CHECKPOINT);
    let text: string;
    try {
      if (Date.now() - (await stat(file)).mtimeMs > MAX_CHECKPOINT_AGE_MS) return undefined;
      text = await readFile(file, "utf8");
    } catch {
      return undefined;
    }
    try {
      const parsed = JSON.parse(text) as Record<string, string>;
      return new Map(Object.entries(parsed).map(([store, offset]) => [store, BigInt(offset)]));
    } catch {
      return undefined; // a torn checkpoint is no checkpoint
    }
  }

  async writeCheckpoint(offsets: ReadonlyMap<string, bigint>): Promise<void> {
    await mkdir(this.root, { recursive: true });
    const body = JSON.stringify(
      Object.fromEntries([...offsets].map(([s, o]) => [s, o.toString()])),
    );
    const temp = path.join(this.root, `${CHECKPOINT}.tmp`);
    await writeFile(temp, body);
    // Rename is atomic: a crash leaves the old checkpoint or the new one, never half of one.
    await rename(temp, path.join(this.root, CHECKPOINT));
  }
}
