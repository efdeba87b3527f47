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
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ...env },
  });
  const exited = once(child, "exit");
  const said = new Map<string, string>();
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line === "ready") resolve();
      const space = line.indexOf(" ");
      if (space > 0) said.set(line.slice(0, space), line.slice(space + 1));
    });
    void exited.then(([code]: unknown[]) => {
      reject(new Error(`${script} exited (code ${String(code)}) before it was ready`));
    });
  });
  return {
    said,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await exited;
    },
  };
}
