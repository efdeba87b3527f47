/**
 * Copies a topic's records into another topic of another partition count, by key: each record
 * goes to the partition its key (or the part of it `keyOf` picks) hashes to, with its key,
 * value (tombstones too), headers and timestamp. A key's records come from one source
 * partition, read in offset order, so they keep their order in the target.
 *
 * Exactly once, and resumable: records are copied in transactions, each also writing how far
 * its source partition has been copied to the job's journal (a compacted topic); a copy killed
 * at any point starts again after its last committed transaction, and the transactional id,
 * the same for every run of a job, fences a copier left running.
 */
import {
  createProducer,
  ensureTopics,
  partitionForKey,
  withAdmin,
  type KafkaProducer,
  type KafkaSettings,
  type ProducedRecord,
} from "../kafka/index.js";
import { RangeReader, type RangeRecord } from "./range-reader.js";

/** Records per transaction: a transaction's cost is spread, and a rerun repeats at most these. */
const CHUNK_RECORDS = 5_000;
const CHUNK_BYTES = 4 * 2 ** 20;

export interface CopySpan {
  topic: string;
  partition: number;
  /** Copy from here, unless the journal says the copy went further. */
  from: bigint;
  /** Exclusive. */
  to: bigint;
}

export interface CopyTarget {
  topic: string;
  partitions: number;
  /** The bytes a record is placed by (default its key). */
  keyOf?: ((key: Buffer) => Buffer) | undefined;
}

export interface CopyProgress {
  source: string;
  copied: number;
}

/** The journal key of a source partition's copy into a target. */
function copyKey(span: Pick<CopySpan, "topic" | "partition">, target: string): string {
  return `copy ${span.topic}/${span.partition} → ${target}`;
}

/**
 * A job's journal: the latest value per key of a compacted topic of one partition, written
 * only in the job's transactions and read committed.
 */
export class JobJournal {
  private constructor(
    private readonly settings: KafkaSettings,
    readonly topic: string,
    readonly entries: Map<string, unknown>,
  ) {}

  /** `readOnly`: a journal whose topic does not exist is empty, and its topic is not made. */
  static async open(
    settings: KafkaSettings,
    topic: string,
    options: { readOnly?: boolean } = {},
  ): Promise<JobJournal> {
    const exists = await withAdmin(settings, async (admin) => {
      if (options.readOnly === true) return (await admin.listTopics()).includes(topic);
      await ensureTopics(admin, [
        { topic, partitions: 1, configs: { "cleanup.policy": "compact" } },
      ]);
      return true;
    });
    if (!exists) return new JobJournal(settings, topic, new Map());
    const reader = new RangeReader(settings, {
      topic,
      from: { kind: "earliest" },
      to: { kind: "latest" },
    });
    const entries = new Map<string, unknown>();
    try {
      for await (const { record } of reader.read(await reader.spans())) {
        if (record.key === null) continue;
        const key = record.key.toString();
        if (record.value === null) entries.delete(key);
        else entries.set(key, JSON.parse(record.value.toString()) as unknown);
      }
    } finally {
      await reader.close();
    }
    return new JobJournal(settings, topic, entries);
  }

  get(key: string): unknown {
    return this.entries.get(key);
  }

  /** A journal record, to send in a transaction (and to apply once it commits). */
  record(key: string, value: unknown): ProducedRecord {
    return {
      topic: this.topic,
      partition: 0,
      key,
      value: Buffer.from(JSON.stringify(value)),
    };
  }

  /** A transactional producer of the job (fencing any other with its id). */
  producer(transactionalId: string): KafkaProducer {
    return createProducer(this.settings, { transactionalId });
  }
}

/** Sends `records` and the journal's `entries` in one transaction; applies them once it commits. */
export async function transact(
  producer: KafkaProducer,
  journal: JobJournal,
  records: ProducedRecord[],
  entries: Record<string, unknown>,
): Promise<void> {
  const transaction = await producer.beginTransaction();
  try {
    const journalRecords = Object.entries(entries).map(([k, v]) => journal.record(k, v));
    await transaction.send({ messages: [...records, ...journalRecords] });
    await transaction.commit();
  } catch (error) {
    await transaction.abort().catch(() => undefined);
    throw error;
  }
  for (const [k, v] of Object.entries(entries)) journal.entries.set(k, v);
}

function placed(record: RangeRecord, target: CopyTarget): ProducedRecord {
  const { key, value, headers, timestamp } = record.record;
  const by = key === null ? undefined : (target.keyOf?.(key) ?? key);
  return {
    topic: target.topic,
    // an unkeyed record has no partition of its own: it keeps its source partition's number
    partition:
      by === undefined
        ? record.partition % target.partitions
        : partitionForKey(by, target.partitions),
    ...(key === null ? {} : { key }),
    value,
    headers,
    timestamp: BigInt(timestamp),
  };
}

/**
 * Copies each span (in turn) into `target`, from where the journal says it got to; returns the
 * records copied by this call. `onProgress` hears after each transaction.
 */
export async function copySpans(options: {
  kafka: KafkaSettings;
  journal: JobJournal;
  producer: KafkaProducer;
  spans: readonly CopySpan[];
  target: CopyTarget;
  onProgress?: ((progress: CopyProgress) => void) | undefined;
}): Promise<number> {
  const { journal, producer, target } = options;
  let copied = 0;
  for (const span of options.spans) {
    const key = copyKey(span, target.topic);
    const done = BigInt((journal.get(key) as string | undefined) ?? "-1");
    const reader = new RangeReader(options.kafka, {
      topic: span.topic,
      from: { kind: "earliest" },
      to: { kind: "latest" },
      partitions: [span.partition],
    });
    try {
      // What the log holds now: from its start (retention may have removed older records) to
      // its last stable offset (records past it belong to transactions not yet decided).
      const [log] = await reader.spans();
      const from = [done, span.from, log?.from ?? 0n].reduce((a, b) => (a > b ? a : b));
      const to = log === undefined || log.to < span.to ? (log?.to ?? 0n) : span.to;
      if (from >= to) continue;
      let chunk: ProducedRecord[] = [];
      let bytes = 0;
      let next = from;
      const flush = async () => {
        await transact(producer, journal, chunk, { [key]: next.toString() });
        copied += chunk.length;
        options.onProgress?.({ source: `${span.topic}/${span.partition}`, copied });
        chunk = [];
        bytes = 0;
      };
      for await (const record of reader.read([{ partition: span.partition, from, to }])) {
        chunk.push(placed(record, target));
        bytes += (record.record.value?.length ?? 0) + (record.record.key?.length ?? 0);
        next = record.record.offset + 1n;
        if (chunk.length >= CHUNK_RECORDS || bytes >= CHUNK_BYTES) await flush();
      }
      if (chunk.length > 0) await flush();
    } finally {
      await reader.close();
    }
  }
  return copied;
}
