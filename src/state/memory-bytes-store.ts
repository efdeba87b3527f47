/**
 * A BytesStore in memory: in-memory stores and the topology test driver. Entries live in a B+
 * tree (sorted-btree), so a write costs O(log n) however many entries there are (a sorted
 * array's splice cost O(n): too slow for 100,000 entries at thousands of writes per second).
 */
import { BTree } from "./btree.js";
import type { BytesStore, Write } from "./bytes-store.js";

export class MemoryBytesStore implements BytesStore {
  private entries = new BTree<Buffer, Buffer>(undefined, byteOrder);

  get(key: Buffer): Promise<Buffer | undefined> {
    return Promise.resolve(this.entries.get(key));
  }

  getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]> {
    return Promise.resolve(keys.map((key) => this.entries.get(key)));
  }

  write(batch: readonly Write[]): Promise<void> {
    for (const [key, value] of batch) {
      if (value === null) this.entries.delete(key);
      else this.entries.set(Buffer.from(key), Buffer.from(value));
    }
    return Promise.resolve();
  }

  async *range(from?: Buffer, to?: Buffer): AsyncIterable<[Buffer, Buffer]> {
    // A copy-on-write clone (O(1)): writes during the iteration do not change what it visits.
    const snapshot = this.entries.clone();
    for (const [key, value] of snapshot.entries(from)) {
      if (to !== undefined && Buffer.compare(key, to) >= 0) break;
      yield [key, value];
    }
    await Promise.resolve();
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): Promise<void> {
    this.entries = new BTree<Buffer, Buffer>(undefined, byteOrder);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function byteOrder(a: Buffer, b: Buffer): number {
  return Buffer.compare(a, b);
}
