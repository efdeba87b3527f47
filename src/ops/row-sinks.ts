/**
 * Where replayed rows go: JSON Lines or CSV, streamed (to a file or stdout, waiting when the
 * reader is slower); or Parquet, for SQL engines and notebooks (duckdb-scratch.ts), so a
 * range of any size fits.
 */
import { stringify } from "csv-stringify";
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import type { Writable } from "node:stream";
import { timestampMillisValue } from "@duckdb/node-api";
import { parquetTable } from "./duckdb-scratch.js";
import type { ReplayRow } from "./record-decoder.js";

export const ReplayFormat = { JsonLines: "jsonl", Csv: "csv", Parquet: "parquet" } as const;
export type ReplayFormat = (typeof ReplayFormat)[keyof typeof ReplayFormat];

export interface RowSink {
  write(row: ReplayRow): Promise<void>;
  /** Finishes the output (a Parquet file is written here). */
  close(): Promise<void>;
}

/** JSON for rows: bytes as base64, bigints as text. */
export function rowJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === "bigint") return v.toString();
    if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
    if (
      typeof v === "object" &&
      v !== null &&
      (v as { type?: unknown }).type === "Buffer" &&
      Array.isArray((v as { data?: unknown }).data)
    ) {
      return Buffer.from((v as { data: number[] }).data).toString("base64");
    }
    return v;
  });
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

async function parquetSink(out: string): Promise<RowSink> {
  const table = await parquetTable(
    `topic VARCHAR, "partition" INTEGER, "offset" BIGINT, "timestamp" TIMESTAMP_MS,
     "key" VARCHAR, "type" VARCHAR, seq INTEGER, "schema" VARCHAR, headers JSON, "value" JSON`,
    out,
    `topic, "partition", "offset", seq`,
  );
  const { appender } = table;
  return {
    write: (row) => {
      appender.appendVarchar(row.topic);
      appender.appendInteger(row.partition);
      appender.appendBigInt(BigInt(row.offset));
      appender.appendTimestampMilliseconds(timestampMillisValue(BigInt(row.timestamp)));
      if (row.key === null) appender.appendNull();
      else appender.appendVarchar(row.key);
      appender.appendVarchar(row.type);
      if (row.seq === null) appender.appendNull();
      else appender.appendInteger(row.seq);
      if (row.schema === null) appender.appendNull();
      else appender.appendVarchar(row.schema);
      appender.appendVarchar(rowJson(row.headers));
      appender.appendVarchar(rowJson(row.value));
      appender.endRow();
      return Promise.resolve();
    },
    close: () => table.finish(),
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
