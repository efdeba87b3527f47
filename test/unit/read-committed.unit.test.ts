import { describe, expect, it } from "vitest";
import type { fetchV17 } from "@platformatic/kafka";
import { abortedBatches, leaveOutAborted } from "../../src/kafka/read-committed.js";

const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;

interface Batch {
  firstOffset: bigint;
  lastOffsetDelta: number;
  producerId: bigint;
  attributes: number;
  records: { key: Buffer | null }[];
}

function data(producerId: bigint, firstOffset: bigint, count: number): Batch {
  return {
    firstOffset,
    lastOffsetDelta: count - 1,
    producerId,
    attributes: TRANSACTIONAL,
    records: Array.from({ length: count }, () => ({ key: Buffer.from("k") })),
  };
}

function marker(producerId: bigint, offset: bigint, commit: boolean): Batch {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(commit ? 1 : 0, 2);
  return {
    firstOffset: offset,
    lastOffsetDelta: 0,
    producerId,
    attributes: TRANSACTIONAL | CONTROL,
    records: [{ key }],
  };
}

/** The first offsets of the batches left out. */
const skipped = (batches: Batch[], aborted: { producerId: bigint; firstOffset: bigint }[]) =>
  [...abortedBatches(batches, aborted)].map((b) => b.firstOffset);

describe("abortedBatches (read_committed as the Java consumer)", () => {
  it("leaves out each aborted transaction of a producer that also commits between them", () => {
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
    expect(skipped(batches, aborted)).toEqual([0n, 6n]);
  });

  it("keeps a producer's committed records before an abort marker the broker does not list (an abort that wrote nothing here)", () => {
    const batches = [
      data(7n, 0n, 1),
      marker(7n, 1n, false),
      data(7n, 2n, 2),
      marker(7n, 4n, true),
      marker(7n, 5n, false),
    ];
    expect(skipped(batches, [{ producerId: 7n, firstOffset: 0n }])).toEqual([0n]);
  });

  it("leaves out an aborted transaction that began before the fetch offset, or whose marker is not in the response", () => {
    expect(
      skipped(
        [data(7n, 3n, 1), marker(7n, 4n, false), data(7n, 5n, 1)],
        [{ producerId: 7n, firstOffset: 0n }],
      ),
    ).toEqual([3n]);
    expect(skipped([data(7n, 0n, 3)], [{ producerId: 7n, firstOffset: 0n }])).toEqual([0n]);
  });

  it("never leaves out a non-transactional batch or another producer's", () => {
    const plain = { ...data(-1n, 0n, 2), attributes: 0 };
    expect(skipped([plain, data(8n, 2n, 1)], [{ producerId: 7n, firstOffset: 0n }])).toEqual([]);
  });
});

describe("leaveOutAborted", () => {
  it("empties aborted batches in place, keeps their offsets, and clears the aborted list", () => {
    const batches = [data(7n, 0n, 2), marker(7n, 2n, false), data(7n, 3n, 1), marker(7n, 4n, true)];
    const partition = {
      records: batches,
      abortedTransactions: [{ producerId: 7n, firstOffset: 0n }],
    } as unknown as fetchV17.FetchResponsePartition;
    leaveOutAborted(partition);
    expect(batches.map((b) => [b.firstOffset, b.records.length])).toEqual([
      [0n, 0],
      [2n, 1],
      [3n, 1],
      [4n, 1],
    ]);
    expect(partition.abortedTransactions).toEqual([]);
  });
});
