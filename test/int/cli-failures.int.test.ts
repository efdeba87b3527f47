/**
 * The CLI failing as a new user meets it (issue 17): each expected failure prints one line
 * saying what was wrong and what to do, exits with its kind's code (src/cli/exit-codes.ts),
 * and shows a stack trace only with --verbose; a reader that goes away is no failure.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, expect, inject, it } from "vitest";
import { ExitCode } from "../../src/cli/exit-codes.js";
import { uniqueName } from "../support/names.js";
import { CLI_MAIN, runCli, type CliRun } from "../support/run-cli.js";

const connections = inject("connections");
const name = uniqueName("fail");
const stackEnv = {
  KAFKA_BROKERS: connections.kafkaBrokers.join(","),
  DATABASE_URL: connections.databaseUrl,
  CDC_DATABASE_URL: connections.cdcDatabaseUrl,
  CONNECT_URL: connections.connectUrl,
};

function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runCli(args, { ...stackEnv, ...env });
}

/** The URL with another user (and password). */
function asUser(url: string, user: string): string {
  return Object.assign(new URL(url), { username: user, password: "x" }).toString();
}

function oneLine(ran: CliRun): string {
  const lines = ran.stderr.trimEnd().split("\n");
  expect(lines, ran.stderr).toHaveLength(1);
  expect(ran.stderr).not.toMatch(/unexpected error|\n\s+at /);
  return lines[0] ?? "";
}

describe("the CLI fails well", () => {
  it("says to run `outbox migrate` when `connectors apply` comes first", async () => {
    const ran = await cli(["connectors", "apply", "--name", name, "--table", `${name}.outbox`], {
      CDC_DATABASE_URL: asUser(connections.cdcDatabaseUrl, `${name}_cdc`),
    });
    expect(ran.code).toBe(ExitCode.Setup);
    const line = oneLine(ran);
    expect(line).toMatch(/^sagastream: /);
    expect(line).toContain("sagastream outbox migrate");

    const verbose = await cli(
      ["connectors", "apply", "--name", name, "--table", `${name}.outbox`, "--verbose"],
      { CDC_DATABASE_URL: asUser(connections.cdcDatabaseUrl, `${name}_cdc`) },
    );
    expect(verbose.code).toBe(ExitCode.Setup);
    expect(verbose.stderr).toMatch(/\n\s+at /);
  });

  it("names the missing role of a database URL", async () => {
    const ran = await cli(["outbox", "migrate", "--table", `${name}.outbox`], {
      DATABASE_URL: asUser(connections.databaseUrl, `${name}_nobody`),
    });
    expect(ran.code).toBe(ExitCode.Refused);
    const line = oneLine(ran);
    expect(line).toContain(`${name}_nobody`);
    expect(line).toContain("DATABASE_URL");
  });

  it("says what does not answer, and how to start it", async () => {
    const ran = await cli(["connectors", "status", "--name", name], {
      CONNECT_URL: "http://127.0.0.1:59999",
    });
    expect(ran.code).toBe(ExitCode.Unavailable);
    const line = oneLine(ran);
    expect(line).toContain("127.0.0.1:59999");
    expect(line).toContain("CONNECT_URL");
  });

  it("exits as a usage error on flags it does not know, in any command", async () => {
    const ran = await cli(["dlq", "list", "x.dlq", "--bogus"]);
    expect(ran.code).toBe(ExitCode.Usage);
    expect(ran.stderr).toContain("unknown option '--bogus'");
    expect(ran.stderr).not.toMatch(/\n\s+at /);
  });

  it("stops quietly when its reader goes away (`stack status | head`)", async () => {
    const child = spawn(process.execPath, [CLI_MAIN, "stack", "status"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env },
    });
    // the reader is gone before the command writes a byte
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, "exit")) as [number | null];
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });
});
