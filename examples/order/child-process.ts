/**
 * The demo's engine worker and participant services, each in a process of its own, as they
 * run in production: the order service's, the participants' and the worker's event loops are
 * not shared, so no one's PostgreSQL round trips wait behind another's batches (sharing one
 * loop at 100 orders/s, a participant's command transaction took 59 ms at the median).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface ChildProcess {
  /** What it printed as `<name> <value>` lines before "ready", by name. */
  said: ReadonlyMap<string, string>;
  /** SIGTERM, then waits for it to exit (it finishes what it holds first). */
  stop(): Promise<void>;
  /** SIGKILL (a crash, or its region lost), then waits for it to exit. */
  kill(): Promise<void>;
}

/**
 * Runs `node <script beside this module> '<options as JSON>'` and resolves once it prints
 * "ready"; its stderr is the demo's. `env` adds to the demo's environment (the Kafka
 * security settings: kept out of the command line, which every user of the machine can read).
 */
export async function startChild(
  script: string,
  options: object,
  env: Record<string, string> = {},
): Promise<ChildProcess> {
  const file = fileURLToPath(new URL(script, import.meta.url));
  const child = spawn(process.execPath, [file, JSON.stringify(options)], {
    // The IPC channel closes when the demo exits however it does: the child then stops too.
    stdio: ["ignore", "pipe", "inherit", "ipc"],
    env: { ...process.env, ...env },
  });
  const exited = once(child, "exit");
  const said = new Map<string, string>();
  await new Promise<void>((resolve, reject) => {
    if (child.stdout === null) throw new Error("spawned without a stdout pipe");
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line === "ready") resolve();
      const space = line.indexOf(" ");
      if (space > 0) said.set(line.slice(0, space), line.slice(space + 1));
    });
    void exited.then(([code]: unknown[]) => {
      reject(new Error(`${script} exited (code ${String(code)}) before it was ready`));
    });
  });
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited;
  };
  return { said, stop: () => end("SIGTERM"), kill: () => end("SIGKILL") };
}

/**
 * In a child started by `startChild`: runs `stop` when the demo is gone (its IPC channel
 * closed: killed, or exited without stopping its children), so no worker or participant is left
 * running on its own. A process started otherwise has no channel, and this does nothing.
 */
export function stopWhenParentExits(stop: () => void): void {
  if (process.channel === undefined) return;
  process.channel.unref(); // the channel alone must not keep the child alive
  process.once("disconnect", stop);
}
