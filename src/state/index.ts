/** State stores: typed, buffered, changelogged key-value stores over RocksDB or memory. */
export { prefixEnd, type BytesStore, type Write } from "./bytes-store.js";
export { BTree } from "./btree.js";
export { CachedBytesStore } from "./cached-bytes-store.js";
export { MemoryBytesStore } from "./memory-bytes-store.js";
export { KeyValueStore, type ReadableStore, type WritableStore } from "./key-value-store.js";
export { Serdes, type Serde } from "./serde.js";
export { MAX_CHECKPOINT_AGE_MS, TaskDirectory } from "./task-directory.js";
export { RocksDbBytesStore } from "./rocksdb-bytes-store.js";
