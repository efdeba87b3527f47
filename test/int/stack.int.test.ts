/**
 * The stack command's own behaviour on this machine: it tracks and stops its processes by pid
 * file, refuses a busy port before starting anything, and reports a bad prerequisite in one
 * line with exit code 1.
 */
import { execFile } from "node:child_process";
import { chmod, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../src/cli/exit-codes.js";
import { loadConfig } from "../../src/config/index.js";
import { PortBusyError } from "../../src/errors/index.js";
import { Stack } from "../../src/stack/index.js";
import { isAlive, launch, runningPid, stopProcess } from "../../src/stack/processes.js";
import { waitUntil } from "../../src/util/index.js";

const run = promisify(execFile);
let stateDir: string;
const held: net.Server[] = [];

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), "sagastream-stack-test-"));
  await chmod(stateDir, 0o755); // PostgreSQL runs as `postgres` when we are root
});

afterAll(async () => {
  for (const server of held) server.close();
  await rm(stateDir, { recursive: true, force: true });
});

/** Free ports for a second, isolated stack config; `hold` keeps the first one bound. */
async function freePorts(count: number, hold: boolean): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => {
      const server = net.createServer();
      return new Promise<net.Server>((resolve) =>
        server.listen(0, "127.0.0.1", () => {
          resolve(server);
        }),
      );
    }),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  servers.forEach((server, i) => (hold && i === 0 ? held.push(server) : server.close()));
  return ports;
}

async function isolatedEnv(
  hold: boolean,
): Promise<{ env: Record<string, string>; busyPort: number }> {
  const [kafka, ...rest] = await freePorts(9, hold);
  const keys = [
    "SAGASTREAM_KAFKA_CONTROLLER_PORT",
    "SAGASTREAM_DR_KAFKA_PORT",
    "SAGASTREAM_DR_KAFKA_CONTROLLER_PORT",
    "SAGASTREAM_REGISTRY_PORT",
    "SAGASTREAM_CONNECT_PORT",
    "SAGASTREAM_POSTGRES_PORT",
    "SAGASTREAM_DR_REGISTRY_PORT",
    "SAGASTREAM_DR_CONNECT_PORT",
  ];
  const env: Record<string, string> = {
    SAGASTREAM_STATE_DIR: stateDir,
    SAGASTREAM_KAFKA_PORT: String(kafka),
  };
  keys.forEach((key, i) => (env[key] = String(rest[i])));
  return { env, busyPort: kafka ?? 0 };
}

function cli(args: string[], env: Record<string, string>) {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !["KAFKA_BROKERS", "SAGASTREAM_STATE_DIR"].includes(k),
    ),
  );
  return run(process.execPath, [path.resolve("dist/cli/main.js"), ...args], {
    env: { ...clean, ...env },
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (error: unknown) => {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    },
  );
}

describe("stack processes", () => {
  it("finds a launched process by pid file only while its command line names the stack", async () => {
    const marker = path.join(stateDir, "marker");
    const pidFile = path.join(stateDir, "run", "sleeper.pid");
    const child = await launch(
      { command: "sh", args: ["-c", "sleep 300", marker] },
      path.join(stateDir, "logs", "sleeper.log"),
      pidFile,
    );
    expect(await runningPid(pidFile, marker)).toBe(child.pid);
    expect(await runningPid(pidFile, "/some/other/stack")).toBeUndefined();
    expect(await stopProcess(child.pid, "SIGTERM", 5000)).toBe("stopped");
    expect(isAlive(child.pid)).toBe(false);
    expect(await runningPid(pidFile, marker)).toBeUndefined();
  });

  it("kills a process that ignores the stop signal once the grace period is over", async () => {
    const log = path.join(stateDir, "logs", "stubborn.log");
    const child = await launch(
      { command: "sh", args: ["-c", "trap '' TERM; echo trapped; while true; do sleep 1; done"] },
      log,
      path.join(stateDir, "run", "stubborn.pid"),
    );
    // Signal only once the trap is set (regression: a loaded machine signalled it before).
    await waitUntil(
      async () =>
        (await readFile(log, "utf8").catch(() => "")).includes("trapped") ? true : undefined,
      { timeoutMs: 10_000, intervalMs: 20, description: "the stubborn process to set its trap" },
    );
    expect(await stopProcess(child.pid, "SIGTERM", 500)).toBe("killed");
    expect(isAlive(child.pid)).toBe(false);
  });
});

describe("stack up", () => {
  it("refuses a busy port before starting anything, naming the port and the variable to change", async () => {
    const { env, busyPort } = await isolatedEnv(true);
    const stack = new Stack(loadConfig(env));
    const error: unknown = await stack.up({ dr: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PortBusyError);
    expect((error as Error).message).toContain(`port ${busyPort} (kafka) is in use`);
    expect((error as Error).message).toContain("SAGASTREAM_KAFKA_PORT");
    const pidFiles = await readdir(path.join(stateDir, "run")).catch(() => []);
    expect(pidFiles.filter((f) => !["sleeper.pid", "stubborn.pid"].includes(f))).toEqual([]);
  });

  it("prints one clear line and exits with its kind's code for a busy port or a missing prerequisite", async () => {
    const { env, busyPort } = await isolatedEnv(true);
    const busy = await cli(["stack", "up"], env);
    expect(busy.code).toBe(ExitCode.Unavailable);
    expect(busy.stderr.trim().split("\n").at(-1)).toMatch(
      new RegExp(`^sagastream: port ${busyPort} \\(kafka\\) is in use`),
    );

    const noJava = await cli(["stack", "up"], { ...env, SAGASTREAM_JAVA_HOME: "/nonexistent/jdk" });
    expect(noJava.code).toBe(ExitCode.PrerequisiteMissing);
    expect(noJava.stderr.trim()).toMatch(
      /^sagastream: Java 17–21 at SAGASTREAM_JAVA_HOME=\/nonexistent\/jdk not found/,
    );
  });

  it("reports every component stopped where no stack runs", async () => {
    const { env } = await isolatedEnv(false);
    const status = await cli(["stack", "status", "--json"], env);
    const parsed = JSON.parse(status.stdout) as { components: { name: string; pid?: number }[] };
    expect(parsed.components.map((c) => c.name)).toEqual([
      "postgres",
      "kafka",
      "kafka-dr",
      "registry",
      "connect",
      "mirror-maker",
      "registry-dr",
      "connect-dr",
    ]);
    expect(parsed.components.every((c) => c.pid === undefined)).toBe(true);
  });
});
