import { compatibilityPartitioner, defaultPartitioner } from "@platformatic/kafka";
import { Partitioners } from "kafkajs";
import { describe, expect, it } from "vitest";
import { javaCompatiblePartitioner, murmur2, partitionForKey } from "../../src/kafka/index.js";

/** From Kafka's own tests (clients UtilsTest.testMurmur2). */
const JAVA_MURMUR2: [string, number][] = [
  ["21", -973932308],
  ["foobar", -790332482],
  ["a-little-bit-long-string", -985981536],
  ["a-little-bit-longer-string", -1486304829],
  ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
  ["abc", 479470107],
];

const keys = Array.from({ length: 3000 }, (_, i) => Buffer.from(`saga-${i}-${"é".repeat(i % 9)}`));

/** kafkajs's DefaultPartitioner is the Java client's; the engine's topics were filled by it. */
function kafkajsPartition(key: Buffer, partitions: number): number {
  return Partitioners.DefaultPartitioner()({
    topic: "t",
    partitionMetadata: Array.from({ length: partitions }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      replicas: [0],
      isr: [0],
      partitionErrorCode: 0,
    })),
    message: { key, value: null },
  });
}

describe("the Java client's partitioner", () => {
  it.each(JAVA_MURMUR2)("murmur2(%j) is %i, as in Kafka", (text, hash) => {
    expect(murmur2(Buffer.from(text))).toBe(hash);
  });

  it("puts every key where kafkajs (and so the Java client) put it", () => {
    for (const [i, key] of keys.entries()) {
      const partitions = 1 + (i % 24);
      expect(partitionForKey(key, partitions)).toBe(kafkajsPartition(key, partitions));
    }
  });

  it("as a producer partitioner: the masked hash, which the producer takes modulo the count", () => {
    const partitioner = javaCompatiblePartitioner();
    for (const key of keys.slice(0, 200)) {
      expect(
        partitioner({ topic: "t", value: Buffer.alloc(0) }, key, { metadata: undefined }),
      ).toBe(compatibilityPartitioner(undefined as never, key));
    }
  });

  it("round-robins records without a key, per topic", () => {
    const partitioner = javaCompatiblePartitioner();
    const next = (topic: string) =>
      partitioner({ topic, value: Buffer.alloc(0) }, undefined, { metadata: undefined });
    expect([next("a"), next("a"), next("b"), next("a")]).toEqual([0, 1, 0, 2]);
  });

  it("differs from @platformatic/kafka's default partitioner, which must not be used", () => {
    const moved = keys.filter(
      (key) => defaultPartitioner(undefined as never, key) % 7 !== partitionForKey(key, 7),
    );
    expect(moved.length).toBeGreaterThan(keys.length / 5); // about a third of all keys
  });
});
