/**
 * `sagastream repartition --verify`: after a move, checks the new generation against the old,
 * key by key. Each copied topic's records of a key (saga-events and changelogs whole, each
 * input from where its group stood at the freeze) must be, in order, the first records of that
 * key in the new topic — counted and compared by a SHA-256 of their value, headers and time —
 * on the one partition the key hashes to. And every saga's state folded from the old
 * saga-events equals the state folded from the same events in the new.
 */
import { createHash, type Hash } from "node:crypto";
import { UsageError } from "../errors/index.js";
import { partitionForKey, withAdmin, type KafkaSettings } from "../kafka/index.js";
import {
  eventsOf,
  fold,
  sagaDecisionReader,
  sagaIdOfStoreKey,
  type SagaEvent,
} from "../saga/index.js";
import type { AvroCodec } from "../schema/index.js";
import type { CommittedRecord } from "../topology/index.js";
import { RangeReader } from "./range-reader.js";
import { MoveStage, repartitionJournalTopic, type RepartitionJob } from "./repartition.js";
import { TopicRole } from "./app-topics.js";
import { groupOffsets } from "./consumer-groups.js";
import { JobJournal } from "./topic-copier.js";

export interface TopicCheck {
  topic: string;
  newTopic: string;
  keys: number;
  records: number;
  /** Keys whose old records are not the first of the new topic's (up to 10). */
  differ: string[];
  /** Keys with a record on a partition other than their own in the new topic (up to 10). */
  misplaced: string[];
}

export interface VerifyReport {
  applicationId: string;
  topics: TopicCheck[];
  sagas: { checked: number; differ: string[] };
  ok: boolean;
}

const EXAMPLES = 10;

/** A saga's decoded event, or the error of a record that did not decode. */
type Folded = SagaEvent | { undecodable: string };

/** The state its events fold to, as JSON; a record that did not decode stands out. */
function stateOf(events: readonly Folded[]): string {
  const bad = events.find((e): e is { undecodable: string } => "undecodable" in e);
  if (bad !== undefined) return `undecodable: ${bad.undecodable}`;
  return JSON.stringify(fold(events as SagaEvent[]));
}

interface KeyDigest {
  count: number;
  hash: Hash;
}

function feed(hash: Hash, record: CommittedRecord): void {
  hash.update(String(record.timestamp));
  hash.update(record.value === null ? "\u0000tombstone" : record.value);
  for (const name of Object.keys(record.headers).sort()) {
    hash.update(name);
    hash.update(record.headers[name] ?? "");
  }
}

async function readRange(
  kafka: KafkaSettings,
  topic: string,
  spans: (log: { partition: number; from: bigint; to: bigint }) => { from: bigint; to: bigint },
  onRecord: (partition: number, record: CommittedRecord) => void | Promise<void>,
): Promise<void> {
  const reader = new RangeReader(kafka, {
    topic,
    from: { kind: "earliest" },
    to: { kind: "latest" },
  });
  try {
    const chosen = (await reader.spans()).map((s) => ({ partition: s.partition, ...spans(s) }));
    for await (const { partition, record } of reader.read(chosen)) {
      await onRecord(partition, record);
    }
  } finally {
    await reader.close();
  }
}

export async function verifyRepartition(options: {
  kafka: KafkaSettings;
  codec: AvroCodec;
  applicationId: string;
}): Promise<VerifyReport> {
  const { kafka, applicationId: app } = options;
  const journal = await JobJournal.open(kafka, repartitionJournalTopic(app));
  const job = journal.get("job") as RepartitionJob | undefined;
  if (job === undefined || (job.stage !== MoveStage.Switched && job.stage !== MoveStage.Done)) {
    throw new UsageError(
      job === undefined
        ? `no move of ${app} to verify (nothing in ${repartitionJournalTopic(app)})`
        : `the move of ${app} is at stage "${job.stage}": finish it (run repartition again) before verifying`,
    );
  }
  const ends = new Map(Object.entries(job.ends ?? {}).map(([t, e]) => [t, e.map(BigInt)]));
  const read = sagaDecisionReader(options.codec);
  const oldEvents = new Map<string, Folded[]>();
  const topics: TopicCheck[] = [];
  for (const t of job.topics) {
    const placeBy = t.role === TopicRole.Changelog ? sagaIdOfStoreKey : (key: Buffer) => key;
    const group = t.tailGroup;
    const starts =
      group !== undefined && t.role !== TopicRole.Events && t.role !== TopicRole.Changelog
        ? await withAdmin(kafka, (admin) => groupOffsets(admin, group, t.topic))
        : new Map<number, bigint>();
    // The old records of each key, from where the copy began to the freeze.
    const old = new Map<string, KeyDigest>();
    await readRange(
      kafka,
      t.topic,
      (log) => ({
        from: starts.get(log.partition) ?? log.from,
        to: ends.get(t.topic)?.[log.partition] ?? log.to,
      }),
      async (_, record) => {
        if (record.key === null) return;
        const key = record.key.toString("latin1");
        const digest = old.get(key) ?? { count: 0, hash: createHash("sha256") };
        digest.count += 1;
        feed(digest.hash, record);
        old.set(key, digest);
        if (t.role === TopicRole.Events && record.value !== null) {
          const events = oldEvents.get(key) ?? [];
          events.push(...(await decoded(read, record.value)));
          oldEvents.set(key, events);
        }
      },
    );
    // The same number of each key's first records in the new topic.
    const fresh = new Map<string, KeyDigest>();
    const misplaced = new Set<string>();
    await readRange(
      kafka,
      t.newTopic,
      (log) => log,
      (partition, record) => {
        if (record.key === null) return;
        const key = record.key.toString("latin1");
        const want = old.get(key)?.count ?? 0;
        if (partitionForKey(placeBy(record.key), job.to.partitions) !== partition) {
          misplaced.add(key);
        }
        const digest = fresh.get(key) ?? { count: 0, hash: createHash("sha256") };
        if (digest.count >= want) return;
        digest.count += 1;
        feed(digest.hash, record);
        fresh.set(key, digest);
      },
    );
    const differ = [...old]
      .filter(([key, digest]) => {
        const copy = fresh.get(key);
        return (
          copy?.count !== digest.count || copy.hash.digest("hex") !== digest.hash.digest("hex")
        );
      })
      .map(([key]) => key);
    topics.push({
      topic: t.topic,
      newTopic: t.newTopic,
      keys: old.size,
      records: [...old.values()].reduce((sum, d) => sum + d.count, 0),
      differ: differ.slice(0, EXAMPLES),
      misplaced: [...misplaced].slice(0, EXAMPLES),
    });
    if (differ.length > EXAMPLES) topics.at(-1)?.differ.push(`… ${differ.length} in all`);
  }
  const sagas = await compareStates(kafka, read, job, oldEvents);
  return {
    applicationId: app,
    topics,
    sagas,
    ok:
      topics.every((t) => t.differ.length === 0 && t.misplaced.length === 0) &&
      sagas.differ.length === 0,
  };
}

/** Each saga's state from its old events against the state from as many of its new ones. */
async function compareStates(
  kafka: KafkaSettings,
  read: ReturnType<typeof sagaDecisionReader>,
  job: RepartitionJob,
  oldEvents: Map<string, Folded[]>,
): Promise<{ checked: number; differ: string[] }> {
  const events = job.topics.find((t) => t.role === TopicRole.Events);
  if (events === undefined) return { checked: 0, differ: [] };
  const newEvents = new Map<string, Folded[]>();
  await readRange(
    kafka,
    events.newTopic,
    (log) => log,
    async (_, record) => {
      if (record.key === null || record.value === null) return;
      const key = record.key.toString("latin1");
      const want = oldEvents.get(key)?.length ?? 0;
      const have = newEvents.get(key) ?? [];
      if (have.length >= want) return;
      have.push(...(await decoded(read, record.value)));
      newEvents.set(key, have.slice(0, want));
    },
  );
  const differ: string[] = [];
  for (const [sagaId, before] of oldEvents) {
    const after = newEvents.get(sagaId) ?? [];
    if (stateOf(before) !== stateOf(after)) differ.push(sagaId);
  }
  return { checked: oldEvents.size, differ: differ.slice(0, EXAMPLES) };
}

/** A decision's events; one that does not decode stands as an event of its own, its error. */
async function decoded(
  read: ReturnType<typeof sagaDecisionReader>,
  value: Buffer,
): Promise<Folded[]> {
  try {
    return eventsOf(await read(value)).map((e) => e.event);
  } catch (error) {
    return [{ undecodable: (error as Error).message }];
  }
}
