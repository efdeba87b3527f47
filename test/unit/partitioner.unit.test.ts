import { describe, expect, it } from "vitest";
import { partitionForKey } from "../../src/topology/partitioner.js";

describe("partitionForKey", () => {
  // Expected partitions as the Java client's default partitioner (and kafkajs's) place them.
  it.each([
    ["order-00001", 6, 2],
    ["saga-42", 12, 3],
    ["", 3, 0],
    ["k", 1, 0],
    ["éclair-αβγ", 7, 4],
    ["21", 2, 0],
  ])("places %j among %i partitions in %i", (key, count, partition) => {
    expect(partitionForKey(Buffer.from(key), count)).toBe(partition);
  });
});
