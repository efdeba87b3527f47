/**
 * A task's local directory: its RocksDB stores and its checkpoint. A checkpoint (the changelog
 * offset each store is complete up to) is written only at a clean close and deleted when the
 * task opens, so after an unclean stop there is none and the stores are wiped and restored.
 */
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";

const CHECKPOINT = ".checkpoint";

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
    let text: string;
    try {
      text = await readFile(path.join(this.root, CHECKPOINT), "utf8");
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
