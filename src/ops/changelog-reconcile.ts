/**
 * Makes a mirrored saga store changelog agree with the mirrored saga-events log, before a
 * region's workers restore from it. On the primary a worker writes a decision's events, its
 * changelog record and its commands in one transaction; MirrorMaker 2 copies each topic on its
 * own, so when the primary is lost the DR copy of the changelog may be ahead of the log for some
 * sagas (an event that never arrived) or behind it. The log is the source of truth: a saga whose
 * latest changelog record is not the state its mirrored events fold to gets that state written;
 * one whose start never arrived is deleted. Sagas the engine deleted after their retention
 * (a tombstone) stay deleted.
 */
import type { KafkaSettings } from "../kafka/index.js";
import { createProducer } from "../kafka/index.js";
import {
  generationId,
  SAGA_STORES,
  sagaDecisionReader,
  sagaRecordSerde,
  sagaTopics,
  type SagaRecord,
} from "../saga/index.js";
import type { AvroCodec } from "../schema/index.js";
import { changelogTopic } from "../topology/index.js";
import { RangeReader } from "./range-reader.js";
import { SagaFolder } from "./saga-folder.js";

export interface ReconcileOptions {
  kafka: KafkaSettings;
  codec: AvroCodec;
  applicationId: string;
  generation: number;
  /** Count what would change, write nothing. */
  dryRun?: boolean | undefined;
}

export interface ReconcileReport {
  changelog: string;
  /** Sagas in the log. */
  sagas: number;
  /** Sagas whose changelog record was behind or ahead of their events: rewritten. */
  rewritten: number;
  /** Sagas in the changelog whose start is not in the log: deleted. */
  deleted: number;
  /** Log records that did not decode (their sagas are left as the changelog has them). */
  undecodable: number;
}

/** The latest changelog value of each key of one partition (null: a tombstone). */
async function latestValues(
  kafka: KafkaSettings,
  topic: string,
  partition: number,
): Promise<Map<string, Buffer | null>> {
  const latest = new Map<string, Buffer | null>();
  const reader = new RangeReader(kafka, {
    topic,
    from: { kind: "earliest" },
    to: { kind: "latest" },
    partitions: [partition],
  });
  try {
    for await (const { record } of reader.read(await reader.spans())) {
      if (record.key !== null) latest.set(record.key.toString("utf8"), record.value);
    }
  } finally {
    await reader.close();
  }
  return latest;
}

export interface ChangelogWrite {
  key: string;
  /** null: a tombstone. */
  value: Buffer | null;
}

/**
 * What one partition's changelog needs to agree with its log: `folded` is what the log's events
 * fold to per saga, `unfolded` the sagas with a record that did not decode (left alone),
 * `stored` the changelog's latest value per saga (null: a tombstone).
 */
export function changelogCorrections(
  folded: ReadonlyMap<string, SagaRecord>,
  unfolded: ReadonlySet<string>,
  stored: ReadonlyMap<string, Buffer | null>,
): ChangelogWrite[] {
  const writes: ChangelogWrite[] = [];
  for (const [sagaId, saga] of folded) {
    if (unfolded.has(sagaId)) continue;
    const value = stored.get(sagaId);
    if (value === null) continue; // deleted after its retention
    const current = value === undefined ? undefined : sagaRecordSerde.deserialize(value);
    if (current?.seq === saga.seq) continue;
    const record: SagaRecord =
      current === undefined
        ? saga
        : { ...saga, correlationId: current.correlationId, traceparent: current.traceparent };
    writes.push({ key: sagaId, value: sagaRecordSerde.serialize(record) });
  }
  for (const [sagaId, value] of stored) {
    if (value === null || folded.has(sagaId) || unfolded.has(sagaId)) continue;
    writes.push({ key: sagaId, value: null });
  }
  return writes;
}

export async function reconcileChangelog(options: ReconcileOptions): Promise<ReconcileReport> {
  const { kafka, applicationId, generation } = options;
  const events = sagaTopics(applicationId, generation).events;
  const changelog = changelogTopic(generationId(applicationId, generation), SAGA_STORES.sagas);
  const decode = sagaDecisionReader(options.codec);
  const report: ReconcileReport = { changelog, sagas: 0, rewritten: 0, deleted: 0, undecodable: 0 };
  const producer = options.dryRun === true ? undefined : createProducer(kafka);
  const reader = new RangeReader(kafka, {
    topic: events,
    from: { kind: "earliest" },
    to: { kind: "latest" },
  });
  try {
    // saga-events and the changelog are co-partitioned by saga id: one partition at a time
    for (const span of await reader.spans()) {
      const folder = new SagaFolder(decode);
      const unfolded = new Set<string>();
      for await (const { record } of reader.read([span])) {
        await folder.add(record).catch(() => {
          report.undecodable += 1;
          if (record.key !== null) unfolded.add(record.key.toString("utf8"));
        });
      }
      report.sagas += folder.sagas.size;
      const stored = await latestValues(kafka, changelog, span.partition);
      const writes = changelogCorrections(folder.sagas, unfolded, stored);
      for (const w of writes) {
        if (w.value === null) report.deleted += 1;
        else report.rewritten += 1;
      }
      if (producer !== undefined && writes.length > 0) {
        await producer.send({
          messages: writes.map((w) => ({
            topic: changelog,
            partition: span.partition,
            key: w.key,
            value: w.value,
          })),
        });
      }
    }
  } finally {
    await reader.close();
    await producer?.close();
  }
  return report;
}
