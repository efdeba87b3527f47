/**
 * `sagastream stack status` prints the connection settings a client needs and no secret:
 * regression test for the CDC role's password it printed in CDC_DATABASE_URL (and, for a
 * `--secure` stack, the SASL password is named by its file, never shown).
 */
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { stackCommand } from "../../src/cli/stack-command.js";

let stateDir = "";
let out = "";
let err = "";

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), "stack-status-"));
  out = "";
  err = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => ((out += String(chunk)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => ((err += String(chunk)), true));
  for (const key of [
    "KAFKA_BROKERS",
    "CDC_DATABASE_URL",
    "DATABASE_URL",
    "KAFKA_SECURITY_PROTOCOL",
    "DR_SCHEMA_REGISTRY_URL",
    "DR_CONNECT_URL",
    "SAGASTREAM_DR_REGISTRY_PORT",
    "SAGASTREAM_DR_CONNECT_PORT",
  ])
    vi.stubEnv(key, "");
});

afterEach(async () => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  await rm(stateDir, { recursive: true, force: true });
});

async function status(...flags: string[]): Promise<void> {
  await stackCommand().parseAsync(["status", "--state-dir", stateDir, ...flags], { from: "user" });
}

describe("stack status", () => {
  it("prints CDC_DATABASE_URL without the replication role's password", async () => {
    await status();
    expect(out).toContain(
      "CDC_DATABASE_URL=postgres://sagastream_cdc:***@127.0.0.1:15432/sagastream",
    );
    expect(out).not.toMatch(/sagastream_cdc:sagastream_cdc@/);
    expect(out).toContain("kafka         stopped");
  });

  it("lists the DR region's registry and Connect, and where to reach them", async () => {
    await status();
    expect(out).toContain("registry-dr   stopped");
    expect(out).toContain("connect-dr    stopped");
    expect(out).toContain("DR_SCHEMA_REGISTRY_URL=http://127.0.0.1:28081/apis/ccompat/v7\n");
    expect(out).toContain("DR_CONNECT_URL=http://127.0.0.1:28083\n");
  });

  it("prints no password in --json either", async () => {
    await status("--json");
    const json = JSON.parse(out) as { connections: Record<string, string> };
    expect(json.connections.CDC_DATABASE_URL).toBe(
      "postgres://sagastream_cdc:***@127.0.0.1:15432/sagastream",
    );
    expect(out).not.toContain("sagastream_cdc:sagastream_cdc@");
  });

  it("names a secure stack's CA and password file, never the password", async () => {
    const secret = "s3cret-never-printed";
    const dir = path.join(stateDir, "security");
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "ca.pem"), "-----BEGIN CERTIFICATE-----\n");
    for (const file of ["sagastream.password", "broker.password", "keystore.password"])
      await writeFile(path.join(dir, file), `${secret}\n`);
    await status();
    await status("--json");
    expect(out).toContain("KAFKA_SECURITY_PROTOCOL=SASL_SSL");
    expect(out).toContain("KAFKA_SASL_MECHANISM=SCRAM-SHA-512");
    expect(out).toContain("KAFKA_SASL_USERNAME=sagastream");
    expect(out).toContain(`KAFKA_SASL_PASSWORD_FILE=${path.join(dir, "sagastream.password")}`);
    expect(out).toContain(`KAFKA_SSL_CA_FILE=${path.join(dir, "ca.pem")}`);
    expect(err).toContain(`CA ${path.join(dir, "ca.pem")}`);
    expect(out + err).not.toContain(secret);
  });
});
