/** A BytesStore in a sorted array: in-memory stores and the topology test driver. */
import type { BytesStore, Write } from "./bytes-store.js";

export class MemoryBytesStore implements BytesStore {
  private keys: Buffer[] = [];
  private values: Buffer[] = [];

  /** Index of `key`, or of where it would be inserted. */
  private search(key: Buffer): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Buffer.compare(this.keys[mid] as Buffer, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  get(key: Buffer): Promise<Buffer | undefined> {
    const i = this.search(key);
    const found = this.keys[i];
    return Promise.resolve(found !== undefined && found.equals(key) ? this.values[i] : undefined);
  }

  write(batch: readonly Write[]): Promise<void> {
    for (const [key, value] of batch) {
      const i = this.search(key);
      const exists = this.keys[i]?.equals(key) === true;
      if (value === null) {
        if (exists) {
          this.keys.splice(i, 1);
          this.values.splice(i, 1);
        }
      } else if (exists) {
        this.values[i] = Buffer.from(value);
      } else {
        this.keys.splice(i, 0, Buffer.from(key));
        this.values.splice(i, 0, Buffer.from(value));
      }
    }
    return Promise.resolve();
  }

  async *range(from?: Buffer, to?: Buffer): AsyncIterable<[Buffer, Buffer]> {
    // Snapshot first, so that writes during iteration do not shift what is visited.
    const start = from === undefined ? 0 : this.search(from);
    const end = to === undefined ? this.keys.length : this.search(to);
    const keys = this.keys.slice(start, end);
    const values = this.values.slice(start, end);
    for (let i = 0; i < keys.length; i++) yield [keys[i] as Buffer, values[i] as Buffer];
    await Promise.resolve();
  }

  get size(): number {
    return this.keys.length;
  }

  clear(): Promise<void> {
    this.keys = [];
    this.values = [];
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
