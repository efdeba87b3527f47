/** `sagastream outbox migrate` and `sagastream connectors apply | status | delete` on the real stack. */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, describe, expect, inject, it } from "vitest";
import { ExitCode } from "../../src/cli/exit-codes.js";
import { waitUntil } from "../../src/util/index.js";
import { uniqueName } from "../support/names.js";

const run = promisify(execFile);
const connections = inject("connections");
const name = uniqueName("cli");
const table = `${name}.outbox`;
const pool = new pg.Pool({ connectionString: connections.databaseUrl, max: 1 });
const cdcUser = `${name}_cdc`;
const cdcUrl = Object.assign(new URL(connections.databaseUrl), {
  username: cdcUser,
  password: "cdc-secret",
}).toString();

function cli(...args: string[]) {
  return run(process.execPath, [path.resolve("dist/cli/main.js"), ...args], {
    env: {
      ...process.env,
      KAFKA_BROKERS: connections.kafkaBrokers.join(","),
      DATABASE_URL: connections.databaseUrl,
      CDC_DATABASE_URL: cdcUrl,
      CONNECT_URL: connections.connectUrl,
    },
  });
}

afterAll(async () => {
  await cli("connectors", "delete", "--name", name).catch(() => undefined);
  await waitUntil(
    async () => {
      const { rows } = await pool.query<{ active: boolean }>(
        "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
        [`${name}_slot`],
      );
      return rows[0]?.active === true ? undefined : true;
    },
    { timeoutMs: 30_000, description: "the slot to be released" },
  ).catch(() => undefined);
  await pool.query(
    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
    [`${name}_slot`],
  );
  await pool.query(`DROP PUBLICATION IF EXISTS ${name}_outbox_pub`);
  await pool.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
  await pool.query(`DROP OWNED BY ${cdcUser}`).catch(() => undefined);
  await pool.query(`DROP ROLE IF EXISTS ${cdcUser}`);
  await pool.end();
});

describe("sagastream outbox and connectors commands", () => {
  it("migrates, applies idempotently, reports the state and deletes", async () => {
    expect((await cli("outbox", "migrate", "--table", table)).stdout).toContain(
      `outbox table ${table} and its publication are ready; replication role ${cdcUser} may read it`,
    );
    const role = await pool.query<{ rolreplication: boolean; rolcanlogin: boolean }>(
      "SELECT rolreplication, rolcanlogin FROM pg_roles WHERE rolname = $1",
      [cdcUser],
    );
    expect(role.rows).toEqual([{ rolreplication: true, rolcanlogin: true }]);
    expect((await cli("outbox", "migrate", "--table", table)).stdout).toContain("are ready"); // again: no error

    expect((await cli("connectors", "apply", "--name", name, "--table", table)).stdout).toContain(
      `connector ${name} applied`,
    );
    const running = await waitUntil(
      async () => {
        const { stdout } = await cli("connectors", "status", "--name", name);
        return /RUNNING; tasks: 0 RUNNING/.test(stdout) ? stdout : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000, description: "the connector to run" },
    );
    expect(running).toContain(`${name}: RUNNING`);
    const streaming = await pool.query<{ usename: string }>(
      "SELECT usename FROM pg_stat_replication WHERE application_name LIKE 'Debezium%' AND usename = $1",
      [cdcUser],
    );
    expect(streaming.rowCount).toBe(1); // Debezium reads the WAL as the replication role
    await cli("connectors", "apply", "--name", name, "--table", table); // re-apply updates in place

    await cli("connectors", "delete", "--name", name);
    const missing = await cli("connectors", "status", "--name", name).catch(
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect(missing).toMatchObject({ code: ExitCode.Usage });
    expect((missing as { stderr: string }).stderr).toMatch(
      /does not exist: run `sagastream connectors apply`/,
    );
  });

  it("refuses a connector name that cannot name a replication slot", async () => {
    const bad = await cli("connectors", "apply", "--name", "Bad-Name").catch(
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect(bad).toMatchObject({ code: ExitCode.Usage });
    expect((bad as { stderr: string }).stderr).toMatch(/must hold only a-z, 0-9 and _/);
  });
});
