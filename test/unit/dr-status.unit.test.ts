import { describe, expect, it } from "vitest";
import { formatDrStatus } from "../../src/cli/dr-command.js";
import {
  checkpointsTopic,
  decodeCheckpoint,
  GapBasis,
  isMirroredTopic,
  type DrStatus,
  type PartitionLog,
} from "../../src/ops/index.js";
import { groupCheckpoints, type TimedCheckpoint } from "../../src/ops/dr-checkpoints.js";
import { rpoOf, type PartitionStatus } from "../../src/ops/dr-status.js";
import { lastRecord, replicationGap } from "../../src/ops/replication-gap.js";
import type { CommittedRecord } from "../../src/topology/index.js";

/** Kafka's protocol STRING: int16 byte length, then UTF-8 (Type.STRING). */
function string(s: string): Buffer {
  const bytes = Buffer.from(s, "utf8");
  const length = Buffer.alloc(2);
  length.writeInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function int16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function int64(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(n);
  return b;
}

/** Checkpoint.serializeKey: KEY_SCHEMA = group STRING, topic STRING, partition INT32. */
const checkpointKey = (group: string, topic: string, partition: number) =>
  Buffer.concat([string(group), string(topic), int32(partition)]);

/** Checkpoint.serializeValue: HEADER_SCHEMA (version INT16), then VALUE_SCHEMA_V0. */
const checkpointValue = (upstream: bigint, downstream: bigint, metadata: string, version = 0) =>
  Buffer.concat([int16(version), int64(upstream), int64(downstream), string(metadata)]);

describe("MirrorMaker 2's checkpoint records (Kafka 3.9 Checkpoint.java)", () => {
  it("are read from the checkpoints topic named after the source alias", () => {
    expect(checkpointsTopic()).toBe("primary.checkpoints.internal");
    expect(checkpointsTopic("us-east")).toBe("us-east.checkpoints.internal");
  });

  it("decode a key and value laid out as the Java Structs write them", () => {
    // written out byte by byte: group "g1", topic "t", partition 3; version 0, 258, 7, ""
    const key = Buffer.from("0002673100017400000003", "hex");
    const value = Buffer.from("0000" + "0000000000000102" + "0000000000000007" + "0000", "hex");
    expect(decodeCheckpoint(key, value)).toEqual({
      group: "g1",
      topic: "t",
      partition: 3,
      upstreamOffset: 258n,
      downstreamOffset: 7n,
      metadata: "",
    });
  });

  it("count a string's length in UTF-8 bytes, not characters", () => {
    const checkpoint = decodeCheckpoint(
      checkpointKey("grüppe-€", "orders.saga-events", 11),
      checkpointValue(2n ** 40n, 123_456n, "méta"),
    );
    expect(checkpoint).toMatchObject({
      group: "grüppe-€",
      topic: "orders.saga-events",
      partition: 11,
      upstreamOffset: 2n ** 40n,
      downstreamOffset: 123_456n,
      metadata: "méta",
    });
  });

  it("refuse a value cut short, naming the field, and a version they do not know", () => {
    const key = checkpointKey("g", "t", 0);
    const whole = checkpointValue(5n, 4n, "m");
    expect(() => decodeCheckpoint(key, whole.subarray(0, 12))).toThrow(/offset/);
    expect(() => decodeCheckpoint(key, checkpointValue(5n, 4n, "m", 1))).toThrow(/version 1/);
    expect(() => decodeCheckpoint(key.subarray(0, 2), whole)).toThrow(/its group/);
  });
});

describe("the topics MirrorMaker mirrors (the stack's configuration)", () => {
  it.each([
    ["orders.saga-events", true],
    ["orders-saga-state-changelog", true],
    ["sagastream.registry-journal", true],
    ["__consumer_offsets", false],
    ["mm2-offset-syncs.dr.internal", false],
    ["primary.checkpoints.internal", false],
    ["sagastream-connect-offsets.internal", false],
    ["heartbeats", false],
    ["primary.heartbeats", false],
    ["bench-saga.replies", false],
    ["bench_x", false],
    ["orders.saga-events.replica", false],
  ])("%s: %s", (topic, mirrored) => {
    expect(isMirroredTopic(topic)).toBe(mirrored);
  });
});

type Row = [offset: number, timestamp: number, key: string, value: string];

const record = ([offset, timestamp, key, value]: Row, headers = {}): CommittedRecord => ({
  offset: BigInt(offset),
  timestamp,
  key: Buffer.from(key),
  value: Buffer.from(value),
  headers,
});

/** A partition held in memory; offsets not listed are markers. `offsetAtTime` is ListOffsets'. */
function fakeLog(records: CommittedRecord[], end: number, start = 0): PartitionLog {
  return {
    start: BigInt(start),
    end: BigInt(end),
    offsetAtTime: (timestamp) =>
      Promise.resolve(records.find((r) => r.timestamp >= timestamp && r.offset >= start)?.offset),
    records: async function* (from, to) {
      for (const r of records) if (r.offset >= from && r.offset < to) yield r;
    },
  };
}

/** DR's copy: the same records, dense offsets. */
const mirrored = (r: CommittedRecord, offset: number): CommittedRecord => ({
  ...r,
  offset: BigInt(offset),
});

const NOW = 1_000_000;

describe("the replication gap of a partition", () => {
  // transactions: commit markers at 2 and 5
  const primaryRecords = [
    record([0, 900_000, "a", "1"]),
    record([1, 900_100, "b", "1"]),
    record([3, 900_200, "a", "2"]),
    record([4, 900_300, "c", "1"]),
    record([6, 900_400, "b", "2"]),
    record([7, 900_500, "a", "3"]),
  ];
  const primary = fakeLog(primaryRecords, 9);

  it("counts the committed records after DR's last one, and the oldest one's age", async () => {
    const drLast = mirrored(primaryRecords[2] as CommittedRecord, 2);
    const gap = await replicationGap(primary, drLast, { now: NOW });
    expect(gap).toEqual({
      unmirrored: 3,
      atLeast: false,
      oldestUnmirroredAt: 900_300,
      lagSeconds: 99.7,
      basis: GapBasis.Matched,
    });
  });

  it("is 0 records and 0 s when DR has the primary's last record", async () => {
    const drLast = mirrored(primaryRecords[5] as CommittedRecord, 5);
    const gap = await replicationGap(primary, drLast, { now: NOW });
    expect(gap).toMatchObject({ unmirrored: 0, lagSeconds: 0, oldestUnmirroredAt: undefined });
  });

  it("is everything on the primary when DR has nothing", async () => {
    const gap = await replicationGap(primary, undefined, { now: NOW });
    expect(gap).toMatchObject({ unmirrored: 6, lagSeconds: 100, basis: GapBasis.DrEmpty });
  });

  it("says 'at least' when the count reaches its cap", async () => {
    const gap = await replicationGap(primary, undefined, { now: NOW, maxCount: 4 });
    expect(gap).toMatchObject({ unmirrored: 4, atLeast: true });
    const exact = await replicationGap(primary, undefined, { now: NOW, maxCount: 6 });
    expect(exact).toMatchObject({ unmirrored: 6, atLeast: false });
  });

  it("finds a record written after later-stamped ones, and not a look-alike with another value", async () => {
    // offset 2 is stamped as offset 0 (a decision stamped with its input's time, committed later)
    const records = [
      record([0, 500, "s1", "started"]),
      record([1, 600, "s2", "started"]),
      record([2, 500, "s1", "step-1"]),
      record([3, 700, "s3", "started"]),
      record([4, 450, "s9", "late"]),
    ];
    const drLast = mirrored(records[2] as CommittedRecord, 2);
    const gap = await replicationGap(fakeLog(records, 5), drLast, { now: 1_000 });
    // the oldest unmirrored is the late-stamped one at offset 4, not the first after the match
    expect(gap).toMatchObject({ unmirrored: 2, oldestUnmirroredAt: 450, lagSeconds: 0.55 });
  });

  it("tells records apart by their headers", async () => {
    const h = (v: string) => ({ "message-id": Buffer.from(v) });
    const records = [record([0, 10, "k", "v"], h("m1")), record([1, 10, "k", "v"], h("m2"))];
    const drLast = mirrored(records[1] as CommittedRecord, 1);
    const gap = await replicationGap(fakeLog(records, 2), drLast, { now: 20 });
    expect(gap).toMatchObject({ unmirrored: 0, basis: GapBasis.Matched });
    const first = mirrored(records[0] as CommittedRecord, 0);
    expect(await replicationGap(fakeLog(records, 2), first, { now: 20 })).toMatchObject({
      unmirrored: 1,
    });
  });

  it("estimates from DR's last record's time when the primary no longer has it (compacted)", async () => {
    // DR's last record (a, "2" at 900,200) was compacted away: a later "a" superseded it
    const compacted = fakeLog(
      primaryRecords.filter((r) => r.offset !== 3n),
      9,
    );
    const drLast = record([2, 900_200, "a", "2"]);
    const gap = await replicationGap(compacted, drLast, { now: NOW });
    expect(gap).toMatchObject({ unmirrored: 3, basis: GapBasis.NotOnPrimary });
  });

  it("counts nothing when DR's last record is newer than anything on the primary", async () => {
    const drLast = record([0, 999_999, "z", "z"]);
    const gap = await replicationGap(primary, drLast, { now: NOW });
    expect(gap).toMatchObject({ unmirrored: 0, basis: GapBasis.NotOnPrimary });
  });
});

describe("a log's last record", () => {
  it("is found behind trailing markers, and is none in an empty log", async () => {
    const records = [record([0, 1, "a", "1"]), record([1, 2, "b", "1"])];
    // 2 to 40: markers and aborted batches, nothing a read returns
    expect((await lastRecord(fakeLog(records, 41)))?.offset).toBe(1n);
    expect(await lastRecord(fakeLog([], 0))).toBeUndefined();
    expect(await lastRecord(fakeLog([], 30, 30))).toBeUndefined();
  });
});

describe("consumer groups' checkpoints on DR", () => {
  const checkpoint = (
    group: string,
    partition: number,
    upstreamOffset: bigint,
    at: number,
  ): TimedCheckpoint => ({
    group,
    topic: "t",
    partition,
    upstreamOffset,
    downstreamOffset: upstreamOffset / 2n,
    metadata: "",
    at,
  });
  const checkpoints = [checkpoint("g", 0, 100n, 5_000), checkpoint("g", 1, 40n, 8_000)];

  it("age by their newest checkpoint, and trail the primary's committed offsets", () => {
    const committed = new Map([
      [
        "g",
        new Map([
          ["t/0", 130n],
          ["t/1", 40n],
        ]),
      ],
    ]);
    expect(groupCheckpoints(checkpoints, { now: 10_000, committed })).toEqual([
      { group: "g", partitions: 2, newestAt: 8_000, ageSeconds: 2, behindOffsets: 30 },
    ]);
  });

  it("list a named group without a checkpoint, and say nothing of offsets not asked", () => {
    expect(groupCheckpoints(checkpoints, { now: 10_000, groups: ["h", "g"] })).toEqual([
      { group: "g", partitions: 2, newestAt: 8_000, ageSeconds: 2, behindOffsets: undefined },
      {
        group: "h",
        partitions: 0,
        newestAt: undefined,
        ageSeconds: undefined,
        behindOffsets: undefined,
      },
    ]);
  });
});

describe("the RPO and its line", () => {
  const gap = (unmirrored: number, lagSeconds: number, atLeast = false) => ({
    unmirrored,
    atLeast,
    lagSeconds,
    oldestUnmirroredAt: undefined,
    basis: GapBasis.Matched,
  });
  const partition = (p: number, g: PartitionStatus["gap"]): PartitionStatus => ({
    topic: "t",
    partition: p,
    primaryEnd: 10,
    drEnd: 5,
    drLastAt: 0,
    gap: g,
  });
  const partitions = [partition(0, gap(3, 4.5)), partition(1, gap(100_000, 2, true))];

  it("sums the records and takes the oldest age over every partition", () => {
    expect(rpoOf(partitions)).toEqual({ records: 100_003, atLeast: true, seconds: 4.5 });
    expect(rpoOf([partition(0, gap(0, 0))])).toEqual({ records: 0, atLeast: false, seconds: 0 });
  });

  it("ends the table output", () => {
    const status: DrStatus = {
      at: 0,
      applicationId: undefined,
      primary: { brokers: ["p:1"], reachable: true, error: undefined },
      dr: { brokers: ["d:1"] },
      partitions,
      groups: [],
      rpo: rpoOf(partitions),
      notes: [],
    };
    const text = formatDrStatus(status);
    expect(text).toMatch(/^t +0 +10 +5 +3 +4\.5 s$/m);
    expect(text.split("\n").at(-1)).toBe(
      "RPO if the primary were lost now: at least 100,003 record(s), 4.5 s",
    );
  });

  it("shows the age of DR's newest record instead of a lag when the primary is lost", () => {
    const lost: DrStatus = {
      at: 60_000,
      applicationId: undefined,
      primary: { brokers: ["p:1"], reachable: false, error: "Cannot connect to any broker." },
      dr: { brokers: ["d:1"] },
      partitions: [{ ...partition(0, undefined), primaryEnd: undefined, drLastAt: 45_000 }],
      groups: [],
      rpo: undefined,
      notes: ["the primary did not answer"],
    };
    const text = formatDrStatus(lost);
    expect(text).toMatch(/ DR newest record age$/m);
    expect(text).toMatch(/^t +0 +- +5 +- +15\.0 s *$/m);
    expect(text.split("\n").at(-1)).toBe(
      "RPO if the primary were lost now: unknown (the primary did not answer)",
    );
  });
});
