/**
 * sorted-btree's B+ tree, for in-memory sorted maps. The package is CommonJS with its class on
 * `exports.default`, which Node's ESM loader does not unwrap (and vitest's does): it is
 * required, as rocksdb-native is, so that both see the same class.
 */
import { createRequire } from "node:module";
import type * as sortedBtree from "sorted-btree";

type BTreeClass = typeof sortedBtree.default.default;

export const BTree = (createRequire(import.meta.url)("sorted-btree") as { default: BTreeClass })
  .default;
