import { describe, expect, it } from "vitest";
import { chunkOutputs, sendOutputs } from "../../src/topology/output-sender.js";
import { partitionForKey } from "../../src/kafka/index.js";
import type { OutputRecord } from "../../src/topology/index.js";

const record = (topic: string, bytes: number, partition?: number): OutputRecord => ({
  topic,
  key: Buffer.from("k"),
  value: Buffer.alloc(bytes),
  timestamp: 0,
  headers: {},
  ...(partition === undefined ? {} : { partition }),
});

describe("chunkOutputs (regression: a busy commit exceeded the broker's message size)", () => {
  it("keeps order and stays under the byte and record limits", () => {
    const outputs = Array.from({ length: 50 }, (_, i) => record(`t${i % 3}`, 100_000));
    const chunks = chunkOutputs(outputs, 512 * 1024, 2_000);
    expect(chunks.flat()).toEqual(outputs);
    for (const chunk of chunks) {
      expect(chunk.reduce((n, o) => n + (o.value?.length ?? 0), 0)).toBeLessThanOrEqual(512 * 1024);
    }
    expect(
      chunkOutputs(
        Array.from({ length: 5 }, () => record("t", 1)),
        1e9,
        2,
      ),
    ).toHaveLength(3);
  });
});

describe("sendOutputs", () => {
  it("sends every chunk, partitions keyed records as Java does, and reports partition ends", async () => {
    const sent: number[] = [];
    let offset = 100n;
    const outputs = [
      ...Array.from({ length: 30 }, () => record("changelog", 60_000, 2)),
      record("commands", 10),
    ];
    const partitions: number[] = [];
    const ends = await sendOutputs(
      outputs,
      () => 6,
      (messages) => {
        sent.push(messages.length);
        partitions.push(...messages.map((m) => m.partition ?? -1));
        const result = { offsets: [{ topic: "changelog", partition: 2, offset }] };
        offset += BigInt(messages.filter((m) => m.topic === "changelog").length);
        return Promise.resolve(result);
      },
    );
    expect(sent.reduce((a, b) => a + b, 0)).toBe(31);
    expect(sent.length).toBeGreaterThan(1);
    expect(ends.get("changelog/2")).toBe(130n);
    expect(partitions.at(-1)).toBe(partitionForKey(Buffer.from("k"), 6));
  });
});
