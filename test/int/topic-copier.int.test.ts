/**
 * The repartition's copier on the real stack (issue 15): 300 keys' records (headers, times and
 * tombstones among them) on 3 partitions copied to 7 by key, stopped half way and run again:
 * every record once, in its key's order, on the partition its key hashes to, with its headers,
 * time and value; a changelog's keys placed by the saga id before their first NUL.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  createProducer,
  ensureTopics,
  partitionForKey,
  topicOffsets,
  withAdmin,
  type KafkaSettings,
} from "../../src/kafka/index.js";
import { copySpans, JobJournal, RangeReader, type CopySpan } from "../../src/ops/index.js";
import { sagaIdOfStoreKey } from "../../src/saga/index.js";
import { uniqueName } from "../support/names.js";

const connections = inject("connections");
const name = uniqueName("copier");
const kafka: KafkaSettings = { brokers: connections.kafkaBrokers, clientId: `${name}-test` };
const source = `${name}.source`;
const target = `${name}.target`;
const KEYS = 300;
const PER_KEY = 20;
const T0 = Date.parse("2026-12-01T00:00:00Z");

interface Seen {
  partition: number;
  key: string;
  value: string | null;
  seq: string | undefined;
  at: number;
}

async function readAll(topic: string): Promise<Seen[]> {
  const reader = new RangeReader(kafka, {
    topic,
    from: { kind: "earliest" },
    to: { kind: "latest" },
  });
  const seen: Seen[] = [];
  try {
    for await (const { partition, record } of reader.read(await reader.spans())) {
      seen.push({
        partition,
        key: record.key?.toString() ?? "",
        value: record.value?.toString() ?? null,
        seq: record.headers["seq"]?.toString(),
        at: record.timestamp,
      });
    }
  } finally {
    await reader.close();
  }
  return seen;
}

beforeAll(async () => {
  await withAdmin(kafka, (admin) =>
    ensureTopics(admin, [
      { topic: source, partitions: 3 },
      { topic: target, partitions: 7 },
    ]),
  );
  const producer = createProducer(kafka);
  try {
    for (let seq = 0; seq < PER_KEY; seq++) {
      await producer.send({
        messages: Array.from({ length: KEYS }, (_, k) => ({
          topic: source,
          key: `saga-${k}\u0000${seq % 2}`,
          // every tenth key's last record is a tombstone
          value: seq === PER_KEY - 1 && k % 10 === 0 ? null : Buffer.from(`v${seq}`),
          headers: { seq: String(seq) },
          timestamp: BigInt(T0 + seq * 1000 + k),
        })),
      });
    }
  } finally {
    await producer.close();
  }
});

afterAll(async () => {
  await withAdmin(kafka, (admin) => admin.deleteTopics({ topics: [source, target] }));
});

describe("copying a topic by key", () => {
  it("copies every record once, in order, by saga id, across a stop half way", async () => {
    const ends = await withAdmin(kafka, (admin) => topicOffsets(admin, source));
    const spans: CopySpan[] = ends.map((p) => ({
      topic: source,
      partition: p.partition,
      from: p.low,
      to: p.high,
    }));
    const copyTarget = {
      topic: target,
      partitions: 7,
      keyOf: sagaIdOfStoreKey,
    };
    const journalTopic = `${name}.repartition`;
    // First run: half of each span, as if killed there.
    let journal = await JobJournal.open(kafka, journalTopic);
    let producer = journal.producer(`${name}.repartition`);
    const half = await copySpans({
      kafka,
      journal,
      producer,
      spans: spans.map((s) => ({ ...s, to: s.from + (s.to - s.from) / 2n })),
      target: copyTarget,
    });
    await producer.close();
    // Second run: a new journal reads how far the first got; the whole spans this time.
    journal = await JobJournal.open(kafka, journalTopic);
    producer = journal.producer(`${name}.repartition`);
    const progress: string[] = [];
    const rest = await copySpans({
      kafka,
      journal,
      producer,
      spans,
      target: copyTarget,
      onProgress: (p) => progress.push(p.source),
    });
    await producer.close();
    expect(half + rest).toBe(KEYS * PER_KEY);
    expect(half).toBeGreaterThan(0);
    expect(progress.length).toBeGreaterThan(0);
    // A third run copies nothing.
    journal = await JobJournal.open(kafka, journalTopic);
    producer = journal.producer(`${name}.repartition`);
    expect(await copySpans({ kafka, journal, producer, spans, target: copyTarget })).toBe(0);
    await producer.close();

    const [before, after] = await Promise.all([readAll(source), readAll(target)]);
    expect(after).toHaveLength(before.length);
    const byKey = (records: Seen[]) => {
      const map = new Map<string, Seen[]>();
      for (const r of records) map.set(r.key, [...(map.get(r.key) ?? []), r]);
      return map;
    };
    const old = byKey(before);
    const copied = byKey(after);
    expect(copied.size).toBe(old.size);
    for (const [key, records] of copied) {
      const sagaId = key.slice(0, key.indexOf("\u0000"));
      expect(new Set(records.map((r) => r.partition))).toEqual(
        new Set([partitionForKey(Buffer.from(sagaId), 7)]),
      );
      const strip = (r: Seen) => [r.value, r.seq, r.at];
      expect(records.map(strip)).toEqual(old.get(key)?.map(strip));
    }
    expect(after.filter((r) => r.value === null)).toHaveLength(KEYS / 10);
  });
});
