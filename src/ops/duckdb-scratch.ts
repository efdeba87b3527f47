/**
 * DuckDB as the Parquet writer, from a scratch directory on disk (memory capped, so a table of
 * any size fits): rows appended to a table (`parquetTable`, for a few columns per row), or
 * written as JSON Lines that DuckDB's own reader loads in bulk (`JsonLinesToParquet`, for many
 * rows: an appender's call per value costs more than the JSON). Every extension it uses
 * (parquet, json) is built in, and autoloading is off: nothing is downloaded at run time.
 */
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { DuckDBInstance, type DuckDBAppender, type DuckDBConnection } from "@duckdb/node-api";

/** DuckDB's working memory: beyond it, the scratch table lives on disk. */
const DUCKDB_MEMORY = "256MB";

const DUCKDB_OPTIONS = {
  memory_limit: DUCKDB_MEMORY,
  // One thread: the per-thread buffers of a parallel COPY are outside memory_limit and grew with
  // the range (a replay of 1,000,000 records to Parquet peaked at 966 MB, now 452), no faster.
  threads: "1",
  autoinstall_known_extensions: "false",
  autoload_known_extensions: "false",
};

/**
 * Rows as JSON Lines in a scratch file, then one COPY to Parquet, in their order. `columns`
 * maps each JSON field to its DuckDB type; `select` may convert them (e.g. ms to a time).
 */
export class JsonLinesToParquet {
  private constructor(
    private readonly scratch: string,
    private readonly stream: ReturnType<typeof createWriteStream>,
  ) {}

  static async open(): Promise<JsonLinesToParquet> {
    const scratch = await mkdtemp(path.join(os.tmpdir(), "sagastream-parquet-"));
    return new JsonLinesToParquet(scratch, createWriteStream(path.join(scratch, "rows.jsonl")));
  }

  async write(line: string): Promise<void> {
    if (!this.stream.write(`${line}\n`)) await once(this.stream, "drain");
  }

  async finish(out: string, columns: Record<string, string>, select: string): Promise<void> {
    try {
      this.stream.end();
      await once(this.stream, "finish");
      const instance = await DuckDBInstance.create(":memory:", {
        ...DUCKDB_OPTIONS,
        temp_directory: this.scratch,
      });
      const connection = await instance.connect();
      try {
        const types = Object.entries(columns)
          .map(([name, type]) => `'${name}': '${type}'`)
          .join(", ");
        const file = path.join(this.scratch, "rows.jsonl");
        await connection.run(
          `COPY (SELECT ${select} FROM read_json('${file}', format = 'newline_delimited', columns = {${types}})) TO '${out.replaceAll("'", "''")}' (FORMAT parquet, COMPRESSION zstd)`,
        );
      } finally {
        connection.closeSync();
        instance.closeSync();
      }
    } finally {
      await rm(this.scratch, { recursive: true, force: true });
    }
  }
}

export interface ParquetTable {
  appender: DuckDBAppender;
  /** Writes the table to `out` (ordered by `orderBy`) and removes the scratch database. */
  finish(): Promise<void>;
  /** Removes the scratch database without writing. */
  discard(): Promise<void>;
}

/** A scratch table `rows` of these columns (SQL), to be written to `out` as Parquet. */
export async function parquetTable(
  columns: string,
  out: string,
  orderBy: string,
): Promise<ParquetTable> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), "sagastream-parquet-"));
  const instance = await DuckDBInstance.create(path.join(scratch, "rows.duckdb"), {
    ...DUCKDB_OPTIONS,
    temp_directory: scratch,
  });
  const connection: DuckDBConnection = await instance.connect();
  const cleanup = async () => {
    connection.closeSync();
    instance.closeSync();
    await rm(scratch, { recursive: true, force: true });
  };
  try {
    await connection.run(`CREATE TABLE rows (${columns})`);
    const appender = await connection.createAppender("rows");
    return {
      appender,
      finish: async () => {
        try {
          appender.closeSync();
          await connection.run(
            `COPY (SELECT * FROM rows ORDER BY ${orderBy}) TO '${out.replaceAll("'", "''")}' (FORMAT parquet, COMPRESSION zstd)`,
          );
        } finally {
          await cleanup();
        }
      },
      discard: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
