/**
 * The stack's child processes: started detached (they outlive the CLI that started them),
 * output appended to a log file, pid recorded in a pid file. A pid is trusted only if the
 * live process's command line still names this stack's state dir, so a recycled pid is
 * never signalled.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { waitUntil } from "../util/index.js";

export interface LaunchSpec {
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
}

export interface Launched {
  pid: number;
  /** Resolves with the exit code (or signal) if the process ends while this CLI runs. */
  exited: Promise<string>;
}

export async function launch(
  spec: LaunchSpec,
  logFile: string,
  pidFile: string,
): Promise<Launched> {
  await mkdir(path.dirname(logFile), { recursive: true });
  await mkdir(path.dirname(pidFile), { recursive: true });
  const fd = openSync(logFile, "a");
  try {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      detached: true, // its own process group: `down` can end it and any children it forks
      stdio: ["ignore", fd, fd],
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once("spawn", () => {
        resolve(child.pid ?? -1);
      });
      child.once("error", reject);
    });
    const exited = new Promise<string>((resolve) => {
      child.once("exit", (code, signal) => {
        resolve(signal === null ? `exited with code ${String(code)}` : `was killed by ${signal}`);
      });
    });
    child.unref();
    await writeFile(pidFile, `${pid}\n`);
    return { pid, exited };
  } finally {
    closeSync(fd);
  }
}

/** The pid in `pidFile` if that process is alive and belongs to the stack in `marker`. */
export async function runningPid(pidFile: string, marker: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(pidFile, "utf8");
  } catch {
    return undefined;
  }
  const pid = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return isAlive(pid) && belongsTo(pid, marker) ? pid : undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  // A zombie answers kill(0) but is already dead.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return true; // no procfs (macOS): kill(0) is all we have
  }
}

function belongsTo(pid: number, marker: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker);
  } catch {
    return true; // no procfs: trust the pid file
  }
}

/**
 * Asks the process to stop with `signal`, waits up to `graceMs`, then kills its whole
 * process group. Returns how it ended.
 */
export async function stopProcess(
  pid: number,
  signal: NodeJS.Signals,
  graceMs: number,
): Promise<"stopped" | "killed"> {
  signalGroup(pid, signal);
  try {
    await waitUntil(() => (isAlive(pid) ? undefined : true), {
      timeoutMs: graceMs,
      intervalMs: 100,
      description: `pid ${pid} to exit`,
    });
    signalGroup(pid, "SIGKILL"); // children it left behind, if any
    return "stopped";
  } catch {
    signalGroup(pid, "SIGKILL");
    await waitUntil(() => (isAlive(pid) ? undefined : true), {
      timeoutMs: 10_000,
      intervalMs: 100,
      description: `pid ${pid} to die`,
    });
    return "killed";
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, signal);
      return;
    } catch {
      // no such group (or already gone): try the single process, then give up
    }
  }
}

export async function removePidFile(pidFile: string): Promise<void> {
  await rm(pidFile, { force: true });
}

/** The last `lines` lines of a log file, for error messages. */
export async function tailOf(logFile: string, lines: number): Promise<string> {
  try {
    const text = await readFile(logFile, "utf8");
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no output)";
  }
}

/** For a process this CLI did not start: resolves once it is gone (polled; never rejects). */
export function watchExit(pid: number): Promise<string> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (!isAlive(pid)) {
        clearInterval(timer);
        resolve("exited");
      }
    }, 500);
    timer.unref();
  });
}
