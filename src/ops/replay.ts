/**
 * `replay`: a topic's records over a range, filtered and decoded, to JSON Lines, CSV or
 * Parquet, without touching production: no consumer group joined, nothing committed, committed
 * data only. Memory is one fetch and one row at a time (Parquet's rows wait in a scratch
 * database on disk). Ends with a summary: records read, rows written, records skipped and why,
 * and every record that could not be decoded, by topic, partition and offset, with the reason.
 */
import type { KafkaSettings } from "../kafka/index.js";
import type { AvroCodec } from "../schema/index.js";
import { RangeReader, type PartitionSpan, type ReadRange } from "./range-reader.js";
import { recordDecoder, UndecodableRecord } from "./record-decoder.js";
import { rowSink, type ReplayFormat } from "./row-sinks.js";

export interface ReplayFilter {
  /** Only records with this key (a saga id, for the engine's topics). */
  key?: string | undefined;
  /** Only rows of these types (saga event types, command types, schema names). */
  types?: readonly string[] | undefined;
  /** Only records carrying each of these headers with this value. */
  headers?: Readonly<Record<string, string>> | undefined;
}

export interface ReplayProgress {
  read: number;
  /** Offsets in the range: an upper bound of the records (markers take offsets too). */
  total: number;
  written: number;
  elapsedMs: number;
}

export interface Undecodable {
  topic: string;
  partition: number;
  offset: string;
  reason: string;
}

export interface ReplaySummary {
  spans: PartitionSpan[];
  read: number;
  written: number;
  skipped: { key: number; header: number; type: number; outsideTimes: number };
  undecodable: number;
  tookMs: number;
}

export interface ReplayOptions {
  kafka: KafkaSettings;
  codec: AvroCodec;
  range: ReadRange;
  filter?: ReplayFilter | undefined;
  format: ReplayFormat;
  /** A file; stdout when absent (not for Parquet). */
  out?: string | undefined;
  /** Called about once a second. */
  onProgress?: ((progress: ReplayProgress) => void) | undefined;
  /** Called for each record that does not decode, as it is met. */
  onUndecodable: (record: Undecodable) => void;
}

const PROGRESS_EVERY_MS = 1_000;

export async function replay(options: ReplayOptions): Promise<ReplaySummary> {
  const started = Date.now();
  const { range, filter = {} } = options;
  const reader = new RangeReader(options.kafka, range);
  const decode = recordDecoder(options.codec, range.topic);
  const wanted = filter.types === undefined ? undefined : new Set(filter.types);
  const headerFilter = Object.entries(filter.headers ?? {});
  const skipped = { key: 0, header: 0, type: 0, outsideTimes: 0 };
  let [read, written, undecodable] = [0, 0, 0];
  try {
    const spans = await reader.spans();
    const total = spans.reduce((sum, s) => sum + Number(s.to - s.from), 0);
    const sink = await rowSink(options.format, options.out);
    let reported = Date.now();
    try {
      for await (const { partition, record } of reader.read(spans)) {
        read += 1;
        if (Date.now() - reported >= PROGRESS_EVERY_MS) {
          reported = Date.now();
          options.onProgress?.({ read, total, written, elapsedMs: reported - started });
        }
        if (filter.key !== undefined && record.key?.toString("utf8") !== filter.key) {
          skipped.key += 1;
          continue;
        }
        if (headerFilter.some(([name, value]) => record.headers[name]?.toString() !== value)) {
          skipped.header += 1;
          continue;
        }
        let rows;
        try {
          rows = await decode(partition, record);
        } catch (error) {
          if (!(error instanceof UndecodableRecord)) throw error;
          undecodable += 1;
          options.onUndecodable({
            topic: range.topic,
            partition,
            offset: String(record.offset),
            reason: error.message,
          });
          continue;
        }
        for (const row of rows) {
          if (wanted !== undefined && !wanted.has(row.type)) {
            skipped.type += 1;
            continue;
          }
          await sink.write(row);
          written += 1;
        }
      }
    } finally {
      await sink.close();
    }
    skipped.outsideTimes = reader.outsideTimes;
    return { spans, read, written, skipped, undecodable, tookMs: Date.now() - started };
  } finally {
    await reader.close();
  }
}
