/**
 * Time travel: every saga's state as of a time, folded from the saga-events log with the
 * engine's own `evolve` into a scratch store (the engine's RocksDB store format) — no command
 * sent, no side effect, no consumer group. Partitions are folded one after another and each is
 * written out when done, so memory holds one partition's sagas. `StoreSagas` then answers
 * `saga list | get` from the store as the live API does.
 */
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { timestampMillisValue } from "@duckdb/node-api";
import { UsageError } from "../errors/index.js";
import type { KafkaSettings } from "../kafka/index.js";
import {
  isActive,
  sagaDecisionReader,
  sagaRecordSerde,
  type SagaRecord,
  type SagaState,
} from "../saga/index.js";
import type { AvroCodec } from "../schema/index.js";
import { RocksDbBytesStore } from "../state/index.js";
import { parquetTable } from "./duckdb-scratch.js";
import { RangeReader } from "./range-reader.js";
import { SagaFolder } from "./saga-folder.js";
import type { Undecodable } from "./replay.js";

export interface RebuildOptions {
  kafka: KafkaSettings;
  codec: AvroCodec;
  topic: string;
  /** Events stamped at or before this time count (ms). */
  asOf: number;
  into: string;
  onProgress?: ((read: number, sagas: number) => void) | undefined;
  /** Called for each record that does not decode (its events are missing from the states). */
  onUndecodable: (record: Undecodable) => void;
}

export interface RebuildSummary {
  topic: string;
  asOf: string;
  sagas: number;
  events: number;
  records: number;
  /** Records that did not decode (each told to `onUndecodable`). */
  undecodable: number;
  tookMs: number;
}

const META = "rebuild.json";
const STORE = "sagas";

/** Folds the saga-events log up to `asOf` into a new store in `into`. */
export async function rebuild(options: RebuildOptions): Promise<RebuildSummary> {
  const started = Date.now();
  await mkdir(options.into, { recursive: true });
  if ((await readdir(options.into)).length > 0) {
    throw new UsageError(`${options.into} is not empty: rebuild into a new directory`);
  }
  const store = await RocksDbBytesStore.open(path.join(options.into, STORE));
  const reader = new RangeReader(options.kafka, {
    topic: options.topic,
    from: { kind: "earliest" },
    to: { kind: "time", at: options.asOf + 1 },
  });
  const decode = sagaDecisionReader(options.codec);
  let [sagas, events, records, undecodable] = [0, 0, 0, 0];
  try {
    const spans = await reader.spans();
    for (const span of spans) {
      const folder = new SagaFolder(decode);
      for await (const { partition, record } of reader.read([span])) {
        records += 1;
        if (records % 10_000 === 0) options.onProgress?.(records, sagas + folder.sagas.size);
        try {
          await folder.add(record);
        } catch (error) {
          undecodable += 1;
          options.onUndecodable({
            topic: options.topic,
            partition,
            offset: String(record.offset),
            reason: (error as Error).message,
          });
        }
      }
      events += folder.events;
      const folded = folder.sagas;
      await store.write(
        [...folded].map(
          ([sagaId, saga]) => [Buffer.from(sagaId), sagaRecordSerde.serialize(saga)] as const,
        ),
      );
      sagas += folded.size;
    }
  } finally {
    await reader.close();
    await store.close();
  }
  const summary: RebuildSummary = {
    topic: options.topic,
    asOf: new Date(options.asOf).toISOString(),
    sagas,
    events,
    records,
    undecodable,
    tookMs: Date.now() - started,
  };
  await writeFile(path.join(options.into, META), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}

/** Where an instance stands: the steps in flight, else the failed one; none once ended. */
export function currentStep(state: SagaState): string | undefined {
  if (!isActive(state.status)) return state.failed?.step;
  const inFlight = Object.entries(state.steps)
    .filter(([, step]) => step.inFlight)
    .map(([name]) => name);
  if (inFlight.length > 0) return inFlight.join(",");
  return state.failed?.step;
}

/** A rebuilt store, read as the live API reads the workers' stores. */
export class StoreSagas {
  private constructor(
    private readonly store: RocksDbBytesStore,
    readonly meta: RebuildSummary,
  ) {}

  static async open(dir: string): Promise<StoreSagas> {
    let meta: RebuildSummary;
    try {
      meta = JSON.parse(await readFile(path.join(dir, META), "utf8")) as RebuildSummary;
    } catch {
      throw new UsageError(`${dir} holds no rebuilt store: make one with \`sagastream rebuild\``);
    }
    return new StoreSagas(await RocksDbBytesStore.open(path.join(dir, STORE)), meta);
  }

  async get(sagaId: string): Promise<SagaRecord | undefined> {
    const bytes = await this.store.get(Buffer.from(sagaId));
    return bytes === undefined ? undefined : sagaRecordSerde.deserialize(bytes);
  }

  /** Every saga, by id. */
  async *all(): AsyncIterable<SagaRecord> {
    for await (const [, value] of this.store.range()) yield sagaRecordSerde.deserialize(value);
  }

  /** One row per saga to Parquet: id, type, version, status, current step, started, updated. */
  async toParquet(out: string): Promise<number> {
    const table = await parquetTable(
      `saga_id VARCHAR, saga_type VARCHAR, version INTEGER, status VARCHAR, current_step VARCHAR,
       started_at TIMESTAMP_MS, updated_at TIMESTAMP_MS, reason VARCHAR`,
      out,
      "saga_id",
    );
    const { appender } = table;
    let rows = 0;
    try {
      for await (const { sagaId, state } of this.all()) {
        appender.appendVarchar(sagaId);
        appender.appendVarchar(state.sagaType);
        appender.appendInteger(state.version);
        appender.appendVarchar(state.status);
        const step = currentStep(state);
        if (step === undefined) appender.appendNull();
        else appender.appendVarchar(step);
        appender.appendTimestampMilliseconds(timestampMillisValue(BigInt(state.startedAt)));
        appender.appendTimestampMilliseconds(timestampMillisValue(BigInt(state.updatedAt)));
        if (state.reason === undefined) appender.appendNull();
        else appender.appendVarchar(state.reason);
        appender.endRow();
        rows += 1;
      }
    } catch (error) {
      await table.discard();
      throw error;
    }
    await table.finish();
    return rows;
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
