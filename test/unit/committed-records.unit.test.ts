import { describe, expect, it } from "vitest";
import { committedRecords, type FetchedBatch } from "../../src/topology/committed-records.js";

const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;

function data(producerId: bigint, firstOffset: bigint, count: number): FetchedBatch {
  return {
    firstOffset,
    lastOffsetDelta: count - 1,
    firstTimestamp: 1000n,
    producerId,
    attributes: TRANSACTIONAL,
    records: Array.from({ length: count }, (_, i) => ({
      offsetDelta: i,
      timestampDelta: BigInt(i),
      key: Buffer.from(`k${firstOffset + BigInt(i)}`),
      value: Buffer.from(`v${producerId}`),
      headers: [[Buffer.from("h"), Buffer.from("x")]],
    })),
  };
}

function marker(producerId: bigint, offset: bigint, commit: boolean): FetchedBatch {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(commit ? 1 : 0, 2);
  return {
    firstOffset: offset,
    lastOffsetDelta: 0,
    firstTimestamp: 1000n,
    producerId,
    attributes: TRANSACTIONAL | CONTROL,
    records: [{ offsetDelta: 0, timestampDelta: 0n, key, value: null, headers: [] }],
  };
}

const offsets = (records: { offset: bigint }[]) => records.map((r) => r.offset);

describe("committedRecords", () => {
  it("reads data batches, never markers, and moves past both", () => {
    const batches = [data(7n, 0n, 2), marker(7n, 2n, true), { ...data(7n, 3n, 2), records: [] }];
    const { records, next } = committedRecords(batches, 0n);
    expect(offsets(records)).toEqual([0n, 1n]);
    expect(next).toBe(5n);
    expect(records[0]).toMatchObject({ timestamp: 1000, headers: { h: Buffer.from("x") } });
  });

  it("leaves out records before the fetch offset", () => {
    const plain = { ...data(-1n, 10n, 3), attributes: 0 };
    const { records, next } = committedRecords([plain], 11n);
    expect(offsets(records)).toEqual([11n, 12n]);
    expect(next).toBe(13n);
  });

  it("a fetch of markers only still moves the position past them", () => {
    const { records, next } = committedRecords([marker(7n, 4n, true)], 4n);
    expect(records).toEqual([]);
    expect(next).toBe(5n);
  });
});
