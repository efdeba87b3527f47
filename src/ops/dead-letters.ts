/**
 * Dead letters an operator can act on (`sagastream dlq`): read a dead-letter topic with the
 * reason and origin of each record (kafka/dead-letter.ts), filtered; decode one where it
 * decodes; re-drive them to their origin topic.
 *
 * A re-drive sends the record as it came (key, value, its own headers; the dead-letter headers
 * dropped) to its origin partition, with `sagastream.redrive.from` naming the dead letter, in a
 * Kafka transaction that also records it in the compacted `<dlq>.redrives`: a dead letter is
 * re-driven once unless forced, even when a re-drive is killed and run again.
 */
import { UsageError } from "../errors/index.js";
import { DLQ_HEADERS, type KafkaSettings, type ProducedRecord } from "../kafka/index.js";
import type { CommittedRecord } from "../topology/index.js";
import type { AvroCodec } from "../schema/index.js";
import { RangeReader } from "./range-reader.js";
import { recordDecoder, UndecodableRecord } from "./record-decoder.js";
import { JobJournal, transact } from "./topic-copier.js";

export const REDRIVE_HEADERS = {
  /** `<dlq topic>/<partition>@<offset>` of the dead letter re-driven. */
  from: "sagastream.redrive.from",
  /** When, ms since the epoch. */
  at: "sagastream.redrive.at",
} as const;

export interface Redrive {
  at: number;
  /** `<topic>/<partition>`. */
  to: string;
}

export interface DeadLetter {
  partition: number;
  offset: string;
  timestamp: number;
  /** Where it was read when it failed (its dead-letter headers). */
  origin: { topic: string; partition: number; offset: string } | undefined;
  code: string | undefined;
  reason: string | undefined;
  record: CommittedRecord;
  /** The last time it was re-driven, if it was. */
  redriven: Redrive | undefined;
}

export interface DeadLetterFilter {
  /** Only those from this origin topic. */
  origin?: string | undefined;
  /** Only those of this error code (DESERIALIZATION_FAILED, …). */
  code?: string | undefined;
  /** Only those dead-lettered in [since, until) (ms since the epoch). */
  since?: number | undefined;
  until?: number | undefined;
  /** Only these offsets (partition 0 unless `partition:offset`). */
  offsets?: readonly string[] | undefined;
}

export function redrivesTopic(deadLetterTopic: string): string {
  return `${deadLetterTopic}.redrives`;
}

function letterKey(partition: number, offset: string): string {
  return `${partition}@${offset}`;
}

function header(record: CommittedRecord, name: string): string | undefined {
  return record.headers[name]?.toString("utf8");
}

function originOf(record: CommittedRecord): DeadLetter["origin"] {
  const topic = header(record, DLQ_HEADERS.topic);
  const partition = header(record, DLQ_HEADERS.partition);
  const offset = header(record, DLQ_HEADERS.offset);
  if (topic === undefined || partition === undefined || offset === undefined) return undefined;
  return { topic, partition: Number(partition), offset };
}

function selected(letter: DeadLetter, filter: DeadLetterFilter): boolean {
  if (filter.origin !== undefined && letter.origin?.topic !== filter.origin) return false;
  if (filter.code !== undefined && letter.code !== filter.code) return false;
  if (filter.since !== undefined && letter.timestamp < filter.since) return false;
  if (filter.until !== undefined && letter.timestamp >= filter.until) return false;
  if (filter.offsets !== undefined) {
    const keys = filter.offsets.map((o) => (o.includes(":") ? o.replace(":", "@") : `0@${o}`));
    if (!keys.includes(letterKey(letter.partition, letter.offset))) return false;
  }
  return true;
}

/** The dead letters of `topic` that `filter` selects, in order, with their re-drives. */
export async function readDeadLetters(
  kafka: KafkaSettings,
  topic: string,
  filter: DeadLetterFilter = {},
): Promise<DeadLetter[]> {
  const redrives = await JobJournal.open(kafka, redrivesTopic(topic), { readOnly: true });
  const reader = new RangeReader(kafka, {
    topic,
    from: { kind: "earliest" },
    to: { kind: "latest" },
  });
  const letters: DeadLetter[] = [];
  try {
    const spans = await reader.spans().catch((error: unknown) => {
      throw new UsageError(
        `cannot read dead-letter topic ${topic} (${error instanceof Error ? error.message : String(error)}): an application's is <application id>.dlq, a participant's <application id>.participant.<name>.dlq`,
      );
    });
    for await (const { partition, record } of reader.read(spans)) {
      const offset = String(record.offset);
      const letter: DeadLetter = {
        partition,
        offset,
        timestamp: record.timestamp,
        origin: originOf(record),
        code: header(record, DLQ_HEADERS.code),
        reason: header(record, DLQ_HEADERS.error),
        record,
        redriven: redrives.get(letterKey(partition, offset)) as Redrive | undefined,
      };
      if (selected(letter, filter)) letters.push(letter);
    }
  } finally {
    await reader.close();
  }
  return letters;
}

/** What the dead letter's record is, decoded through the registry, or why it does not decode. */
export async function decodeDeadLetter(codec: AvroCodec, letter: DeadLetter) {
  const decode = recordDecoder(codec, letter.origin?.topic ?? "?");
  try {
    const rows = await decode(letter.origin?.partition ?? letter.partition, letter.record);
    return { decodes: true as const, rows };
  } catch (error) {
    if (!(error instanceof UndecodableRecord)) throw error;
    return { decodes: false as const, why: error.message };
  }
}

export interface RedriveResult {
  redriven: DeadLetter[];
  /** Re-driven before, and not forced. */
  refused: DeadLetter[];
  /** Without origin headers: nowhere to send them. */
  unplaced: DeadLetter[];
}

/** The record a re-drive sends: the dead letter as it came, to its origin. */
function redriven(topic: string, letter: DeadLetter, at: number): ProducedRecord | undefined {
  const { origin, record } = letter;
  if (origin === undefined) return undefined;
  const headers: Record<string, Buffer> = {};
  const dlqHeaders = new Set<string>(Object.values(DLQ_HEADERS));
  for (const [name, value] of Object.entries(record.headers)) {
    if (!dlqHeaders.has(name)) headers[name] = value;
  }
  headers[REDRIVE_HEADERS.from] = Buffer.from(
    `${topic}/${letterKey(letter.partition, letter.offset)}`,
  );
  headers[REDRIVE_HEADERS.at] = Buffer.from(String(at));
  return {
    topic: origin.topic,
    partition: origin.partition,
    ...(record.key === null ? {} : { key: record.key }),
    value: record.value,
    headers,
  };
}

/**
 * Sends each of `letters` (read from `topic`) back to its origin, once: one re-driven before is
 * refused unless `force`. With `dryRun`, says what it would do and sends nothing.
 */
export async function redriveDeadLetters(
  kafka: KafkaSettings,
  topic: string,
  letters: readonly DeadLetter[],
  options: { force?: boolean | undefined; dryRun?: boolean | undefined } = {},
): Promise<RedriveResult> {
  const result: RedriveResult = { redriven: [], refused: [], unplaced: [] };
  const journal = await JobJournal.open(kafka, redrivesTopic(topic));
  const producer = options.dryRun === true ? undefined : journal.producer(redrivesTopic(topic));
  try {
    for (const letter of letters) {
      const key = letterKey(letter.partition, letter.offset);
      const at = Date.now();
      const record = redriven(topic, letter, at);
      if (record === undefined) {
        result.unplaced.push(letter);
        continue;
      }
      if (journal.get(key) !== undefined && options.force !== true) {
        result.refused.push(letter);
        continue;
      }
      if (producer !== undefined) {
        const redrive: Redrive = { at, to: `${record.topic}/${String(record.partition)}` };
        await transact(producer, journal, [record], { [key]: redrive });
        letter.redriven = redrive;
      }
      result.redriven.push(letter);
    }
  } finally {
    await producer?.close();
  }
  return result;
}
