/**
 * DuckDB as the Parquet writer: rows go into a table of a scratch database on disk (memory
 * capped, so a table of any size fits), then one COPY writes the file. Every extension it uses
 * (parquet, json) is built in, and autoloading is off: nothing is downloaded at run time.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { DuckDBInstance, type DuckDBAppender, type DuckDBConnection } from "@duckdb/node-api";

/** DuckDB's working memory: beyond it, the scratch table lives on disk. */
const DUCKDB_MEMORY = "256MB";

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
    memory_limit: DUCKDB_MEMORY,
    temp_directory: scratch,
    autoinstall_known_extensions: "false",
    autoload_known_extensions: "false",
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
