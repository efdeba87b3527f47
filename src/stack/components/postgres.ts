/**
 * The stack's own PostgreSQL cluster, from the machine's server binaries, with
 * wal_level=logical for Debezium. It has its own port and data dir, so it never touches a
 * PostgreSQL server the machine already runs.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chown, mkdir } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { LOCAL_HOST, portKey, STACK_DATABASE } from "../../config/index.js";
import { ComponentFailedError } from "../../errors/index.js";
import type { Component, StackContext } from "../component.js";
import type { LaunchSpec } from "../processes.js";

const run = promisify(execFile);

/** Runs a PostgreSQL binary as the `postgres` user when we are root (it refuses root). */
function asPostgres(ctx: StackContext, binary: string, args: string[]): LaunchSpec {
  const command = path.join(ctx.prereqs.pgBin, binary);
  const user = ctx.prereqs.postgresUser;
  if (user === undefined) return { command, args };
  return {
    command: "setpriv",
    args: [`--reuid=${user}`, `--regid=${user}`, "--init-groups", "--", command, ...args],
  };
}

function dataDir(ctx: StackContext): string {
  return path.join(ctx.paths.componentDir("postgres"), "data");
}

async function query(ctx: StackContext, database: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({
    host: LOCAL_HOST,
    port: ctx.config.ports.postgres,
    user: "postgres",
    database,
    connectionTimeoutMillis: 2000,
  });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

export function postgres(): Component {
  return {
    name: "postgres",
    ports: (config) => [{ port: config.ports.postgres, key: portKey("postgres") }],
    dependsOn: [],
    disasterRecovery: false,
    readiness: "PostgreSQL to accept connections",
    stopSignal: "SIGINT", // "fast" shutdown: rolls back open transactions, then exits

    async prepare(ctx) {
      const data = dataDir(ctx);
      if (existsSync(path.join(data, "PG_VERSION"))) return;
      await mkdir(path.dirname(data), { recursive: true });
      await mkdir(data, { mode: 0o700 });
      const user = ctx.prereqs.postgresUser;
      if (user !== undefined) {
        const { stdout } = await run("id", ["-u", user]);
        const { stdout: gid } = await run("id", ["-g", user]);
        await chown(data, Number(stdout.trim()), Number(gid.trim()));
        try {
          await run("setpriv", [
            `--reuid=${user}`,
            `--regid=${user}`,
            "--init-groups",
            "--",
            "test",
            "-w",
            data,
          ]);
        } catch {
          throw new ComponentFailedError(
            "postgres",
            `cannot use ${data}: PostgreSQL refuses to run as root, so it runs as \`${user}\`, which ` +
              "cannot reach that directory; set SAGASTREAM_STATE_DIR to one whose parents it may enter",
          );
        }
      }
      const init = asPostgres(ctx, "initdb", [
        "-D",
        data,
        "-U",
        "postgres",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--no-locale",
      ]);
      try {
        await run(init.command, init.args);
      } catch (error) {
        throw new ComponentFailedError("postgres", `initdb failed: ${String(error)}`);
      }
    },

    launchSpec(ctx) {
      return asPostgres(ctx, "postgres", [
        "-D",
        dataDir(ctx),
        "-p",
        String(ctx.config.ports.postgres),
        "-c",
        `listen_addresses=${LOCAL_HOST}`,
        "-c",
        "unix_socket_directories=", // TCP only: no socket path length limits, no clashes
        "-c",
        "wal_level=logical",
        "-c",
        "max_replication_slots=20",
        "-c",
        "max_wal_senders=20",
        "-c",
        "max_connections=200",
      ]);
    },

    async probe(ctx) {
      await query(ctx, "postgres", "SELECT 1");
    },

    async afterReady(ctx) {
      const exists = await query(
        ctx,
        "postgres",
        `SELECT 1 FROM pg_database WHERE datname = '${STACK_DATABASE}'`,
      );
      if (exists.rowCount === 0) await query(ctx, "postgres", `CREATE DATABASE ${STACK_DATABASE}`);
    },
  };
}
