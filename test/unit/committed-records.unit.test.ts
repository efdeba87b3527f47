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
  it("skips each aborted transaction of a producer that also commits between them", () => {
    // Producer 7: aborted [0,1], committed [3,4], aborted [6,7]; producer 9 commits [9].
    const batches = [
      data(7n, 0n, 2),
      marker(7n, 2n, false),
      data(7n, 3n, 2),
      marker(7n, 5n, true),
      data(7n, 6n, 2),
      marker(7n, 8n, false),
      data(9n, 9n, 1),
      marker(9n, 10n, true),
    ];
    const aborted = [
      { producerId: 7n, firstOffset: 6n },
      { producerId: 7n, firstOffset: 0n },
    ];
    const { records, next } = committedRecords(batches, aborted, 0n);
    expect(offsets(records)).toEqual([3n, 4n, 9n]);
    expect(next).toBe(11n);
    expect(records[0]).toMatchObject({ timestamp: 1000, headers: { h: Buffer.from("x") } });
  });

  it("skips an aborted transaction that began before the fetch offset (the broker lists it again)", () => {
    const first = committedRecords([data(7n, 0n, 3)], [{ producerId: 7n, firstOffset: 0n }], 0n);
    expect(first).toEqual({ records: [], next: 3n });
    const second = committedRecords(
      [data(7n, 3n, 1), marker(7n, 4n, false), data(7n, 5n, 1)],
      [{ producerId: 7n, firstOffset: 0n }],
      3n,
    );
    expect(offsets(second.records)).toEqual([5n]);
  });

  it("keeps a producer's committed records before an abort marker the broker does not list (an abort that wrote nothing here)", () => {
    const batches = [
      data(7n, 0n, 1),
      marker(7n, 1n, false),
      data(7n, 2n, 2),
      marker(7n, 4n, true),
      marker(7n, 5n, false),
    ];
    const { records } = committedRecords(batches, [{ producerId: 7n, firstOffset: 0n }], 0n);
    expect(offsets(records)).toEqual([2n, 3n]);
  });

  it("carries nothing from one fetch to the next: a reader moved back reads committed records again", () => {
    committedRecords([data(7n, 6n, 2)], [{ producerId: 7n, firstOffset: 6n }], 6n);
    const { records } = committedRecords([data(7n, 3n, 2), marker(7n, 5n, true)], [], 3n);
    expect(offsets(records)).toEqual([3n, 4n]);
  });

  it("passes non-transactional batches and records before the fetch offset are left out", () => {
    const plain = { ...data(-1n, 10n, 3), attributes: 0 };
    const { records, next } = committedRecords([plain], null, 11n);
    expect(offsets(records)).toEqual([11n, 12n]);
    expect(next).toBe(13n);
  });

  it("a fetch of markers only still moves the position past them", () => {
    const { records, next } = committedRecords([marker(7n, 4n, true)], [], 4n);
    expect(records).toEqual([]);
    expect(next).toBe(5n);
  });
});
