/**
 * Where replayed rows go: JSON Lines or CSV, streamed (to a file or stdout, waiting when the
 * reader is slower); or Parquet, for SQL engines and notebooks (duckdb-scratch.ts), so a
 * range of any size fits.
 */
import { stringify } from "csv-stringify";
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import type { Writable } from "node:stream";
import { JsonLinesToParquet } from "./duckdb-scratch.js";
import type { ReplayRow } from "./record-decoder.js";

export const ReplayFormat = { JsonLines: "jsonl", Csv: "csv", Parquet: "parquet" } as const;
export type ReplayFormat = (typeof ReplayFormat)[keyof typeof ReplayFormat];

export interface RowSink {
  write(row: ReplayRow): Promise<void>;
  /** Finishes the output (a Parquet file is written here). */
  close(): Promise<void>;
}

/** A row as JSON: its values are plain already (record-decoder.ts), so no replacer is needed. */
export function rowJson(value: unknown): string {
  return JSON.stringify(value);
}

async function writeTo(stream: Writable, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, "drain");
}

function output(out: string | undefined): { stream: Writable; end: () => Promise<void> } {
  if (out === undefined) return { stream: process.stdout, end: () => Promise.resolve() };
  const stream = createWriteStream(out);
  return {
    stream,
    end: async () => {
      stream.end();
      await once(stream, "finish");
    },
  };
}

function jsonLinesSink(out: string | undefined): RowSink {
  const { stream, end } = output(out);
  return {
    write: (row) => writeTo(stream, `${rowJson({ ...row, timestamp: iso(row.timestamp) })}\n`),
    close: end,
  };
}

const COLUMNS = [
  "topic",
  "partition",
  "offset",
  "timestamp",
  "key",
  "type",
  "seq",
  "schema",
  "headers",
  "value",
] as const;

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function csvSink(out: string | undefined): RowSink {
  const { stream, end } = output(out);
  const csv = stringify({ header: true, columns: [...COLUMNS] });
  csv.pipe(stream, { end: false });
  return {
    write: async (row) => {
      const ok = csv.write({
        ...row,
        timestamp: iso(row.timestamp),
        headers: rowJson(row.headers),
        value: rowJson(row.value),
      });
      if (!ok) await once(csv, "drain");
    },
    close: async () => {
      csv.end();
      await once(csv, "end");
      await end();
    },
  };
}

const PARQUET_COLUMNS = {
  topic: "VARCHAR",
  partition: "INTEGER",
  offset: "BIGINT",
  timestamp: "BIGINT",
  key: "VARCHAR",
  type: "VARCHAR",
  seq: "INTEGER",
  schema: "VARCHAR",
  headers: "JSON",
  value: "JSON",
};

async function parquetSink(out: string): Promise<RowSink> {
  const scratch = await JsonLinesToParquet.open();
  return {
    write: (row) => scratch.write(rowJson(row)),
    close: () =>
      scratch.finish(
        out,
        PARQUET_COLUMNS,
        `topic, "partition", "offset", epoch_ms("timestamp") AS "timestamp", "key", "type", seq, "schema", headers, "value"`,
      ),
  };
}

export async function rowSink(format: ReplayFormat, out: string | undefined): Promise<RowSink> {
  switch (format) {
    case ReplayFormat.JsonLines:
      return jsonLinesSink(out);
    case ReplayFormat.Csv:
      return csvSink(out);
    case ReplayFormat.Parquet:
      if (out === undefined) throw new Error("Parquet needs a file: give --out <file.parquet>");
      return parquetSink(out);
  }
}
