/** A persistent BytesStore on RocksDB (rocksdb-native: maintained, promise-based, prebuilt). */
import { mkdir, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import type { BytesStore, Write } from "./bytes-store.js";

interface RocksDb {
  ready(): Promise<void>;
  close(): Promise<void>;
  get(key: Buffer): Promise<Buffer | null>;
  read(options: { capacity: number; autoDestroy: boolean }): {
    get(key: Buffer): Promise<Buffer | null>;
    flush(): Promise<void>;
  };
  write(options: { autoDestroy: boolean }): {
    put(key: Buffer, value: Buffer): void;
    delete(key: Buffer): void;
    flush(): Promise<void>;
  };
  iterator(range: { gte?: Buffer; lt?: Buffer }): AsyncIterable<{ key: Buffer; value: Buffer }>;
}
interface RocksDbOptions {
  /** Bytes of one memtable (RocksDB: write_buffer_size, 64 MB by default). */
  writeBufferSize?: number;
  /** Memtables kept, the one written and those waiting to be flushed (default 2). */
  maxWriteBufferNumber?: number;
}
type RocksDbConstructor = new (path: string, options?: RocksDbOptions) => RocksDb;

/**
 * A task's store holds its partition's share of the state; RocksDB's defaults size a memtable
 * for a whole database (64 MB, of which the data written since the last flush stays in memory).
 */
const OPTIONS: RocksDbOptions = { writeBufferSize: 4 * 2 ** 20, maxWriteBufferNumber: 2 };

// rocksdb-native is CommonJS without type declarations.
const RocksDB = createRequire(import.meta.url)("rocksdb-native") as RocksDbConstructor;

export class RocksDbBytesStore implements BytesStore {
  private constructor(
    readonly dir: string,
    private db: RocksDb,
  ) {}

  static async open(dir: string): Promise<RocksDbBytesStore> {
    await mkdir(dir, { recursive: true });
    const db = new RocksDB(dir, OPTIONS);
    await db.ready();
    return new RocksDbBytesStore(dir, db);
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    return (await this.db.get(key)) ?? undefined;
  }

  async getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]> {
    if (keys.length === 0) return [];
    const read = this.db.read({ capacity: keys.length, autoDestroy: true });
    const values = keys.map((key) => read.get(key));
    await read.flush();
    return (await Promise.all(values)).map((value) => value ?? undefined);
  }

  async write(batch: readonly Write[]): Promise<void> {
    if (batch.length === 0) return;
    // A batch that is not destroyed keeps the database busy, and close() would wait for it forever.
    const write = this.db.write({ autoDestroy: true });
    for (const [key, value] of batch) {
      if (value === null) write.delete(key);
      else write.put(key, value);
    }
    await write.flush();
  }

  async *range(from?: Buffer, to?: Buffer): AsyncIterable<[Buffer, Buffer]> {
    const range: { gte?: Buffer; lt?: Buffer } = {};
    if (from !== undefined) range.gte = from;
    if (to !== undefined) range.lt = to;
    // A RocksDB iterator reads from the implicit snapshot taken when it is created.
    for await (const { key, value } of this.db.iterator(range)) yield [key, value];
  }

  async clear(): Promise<void> {
    await this.db.close();
    await rm(this.dir, { recursive: true, force: true });
    await mkdir(this.dir, { recursive: true });
    this.db = new RocksDB(this.dir, OPTIONS);
    await this.db.ready();
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
