/**
 * `sagastream bench dr`: the disaster-recovery drill (examples/order/dr-drill.ts) on a stack
 * with its DR region: the primary region SIGKILLed mid-run, `sagastream dr failover` run as an
 * operator would, the RPO and RTO measured and the outcomes checked; then the primary brought
 * back and `sagastream dr failback` run, with the same checks. The stack is whole again
 * afterwards (the primary's components restarted, MirrorMaker 2 too).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Config } from "../config/index.js";
import type { Stack } from "../stack/index.js";
import { formatTable, waitUntil } from "../util/index.js";

/** What the drill module (built beside the engine, in dist/examples) returns. */
export interface DrDrillReport {
  app: string;
  placed: number;
  placedAfterKill: number;
  killAt: number;
  failoverMs: number;
  rtoMs: number;
  rpo: {
    records: number;
    seconds: number;
    partitions: { topic: string; partition: number; lost: number; prefix: boolean }[];
  };
  sagas: {
    before: number;
    endedOnce: number;
    endedTwice: string[];
    notEnded: string[];
    laterEnded: number;
    laterNotEnded: string[];
  };
  rpoGaugeBeforeKill: number | undefined;
  /** What `dr failover --dry-run` said before the kill, `dr failover`, and it run again once over. */
  dryRun: string;
  failoverSaid: string;
  failoverRerun: string;
  duplicateEffects: string[];
  api: { checked: number; differ: string[] };
  failback?: FailbackReport | undefined;
}

/** The failback's part (examples/order/dr-failback-drill.ts). */
export interface FailbackReport {
  dryRun: string;
  said: string;
  tookMs: number;
  heldStillMs: number;
  freezeToCompletionMs: number;
  placedDuring: number;
  drEnded: number;
  lost: string[];
  sagas: { placed: number; endedOnce: number; endedTwice: string[]; notEnded: string[] };
  duplicateEffects: string[];
  api: { checked: number; differ: string[] };
}

interface DrillModule {
  runDrDrill(options: object): Promise<DrDrillReport>;
}

export interface DrDrillRun {
  rate?: number | undefined;
  beforeKillSeconds?: number | undefined;
  afterFailoverSeconds?: number | undefined;
  /** Then fail back to the primary, with orders for this many seconds once back. */
  failback?: { afterSeconds: number } | undefined;
  /**
   * SIGKILL `dr failover` once it has set the offsets and `dr failback` once DR is frozen, and
   * run each again (their journals finish them); the times then include the crash.
   */
  crashes?: boolean | undefined;
}

const PRIMARY_REGION_COMPONENTS = ["kafka", "registry", "connect"] as const;

async function sigkill(stack: Stack, names: readonly string[]): Promise<void> {
  const running = (await stack.status()).filter(
    (c) => names.includes(c.name) || /^kafka-\d+$/.test(c.name),
  );
  for (const c of running) if (c.pid !== undefined) process.kill(c.pid, "SIGKILL");
  for (const c of running) {
    const { pid } = c;
    if (pid === undefined) continue;
    await waitUntil(
      () => {
        try {
          process.kill(pid, 0);
          return undefined;
        } catch {
          return true;
        }
      },
      { timeoutMs: 10_000, intervalMs: 50, description: `${c.name} (pid ${pid}) to die` },
    );
  }
}

/**
 * Runs `sagastream <args>` (this build's CLI) with the config's environment; its output goes to
 * stderr as it comes, and is returned. `killAt`: SIGKILLs it on the first line it matches (a
 * crash mid-run), and then returns what it printed.
 */
export async function cli(
  config: Config,
  args: string[],
  onLine: (line: string) => void = () => undefined,
  killAt?: RegExp,
): Promise<string> {
  const main = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
  const child = spawn(process.execPath, [main, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, SAGASTREAM_STATE_DIR: config.stateDir },
  });
  let output = "";
  const killed = { at: undefined as string | undefined };
  createInterface({ input: child.stdout }).on("line", (line) => {
    onLine(line);
    if (killAt?.test(line) === true && killed.at === undefined) {
      killed.at = line;
      child.kill("SIGKILL");
    }
  });
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
    process.stderr.write(chunk);
  });
  const [code] = (await once(child, "exit")) as [number | null];
  if (killed.at !== undefined) return `${output}\n[SIGKILLed after "${killed.at.trim()}"]\n`;
  if (code !== 0) throw new Error(`sagastream ${args.join(" ")} exited with ${String(code)}`);
  return output;
}

/** Runs the drill on `stack` (brought up with DR first) and makes the stack whole again. */
export async function runDrDrill(
  config: Config,
  stack: Stack,
  run: DrDrillRun,
  report: (line: string) => void,
): Promise<DrDrillReport> {
  await stack.up({ dr: true });
  const { connections } = config;
  /** The CLI, SIGKILLed at `killAt` and run again if `crash`: what it printed. */
  const runTwiceIf = async (
    crash: boolean | undefined,
    args: string[],
    killAt: RegExp,
    onLine?: (line: string) => void,
  ) => {
    if (crash !== true) return cli(config, args, onLine);
    const killed = await cli(config, args, onLine, killAt);
    return `${killed}${await cli(config, args, onLine)}`;
  };
  const drill = (await import(
    new URL("../../dist/examples/order/dr-drill.js", import.meta.url).href
  )) as DrillModule;
  try {
    return await drill.runDrDrill({
      primary: {
        kafkaBrokers: connections.kafkaBrokers,
        schemaRegistryUrl: connections.schemaRegistryUrl,
        connectUrl: connections.connectUrl,
      },
      dr: {
        kafkaBrokers: connections.drKafkaBrokers,
        schemaRegistryUrl: connections.drSchemaRegistryUrl,
        connectUrl: connections.drConnectUrl,
      },
      databaseUrl: connections.databaseUrl,
      cdcDatabaseUrl: connections.cdcDatabaseUrl,
      rate: run.rate,
      beforeKillSeconds: run.beforeKillSeconds,
      afterFailoverSeconds: run.afterFailoverSeconds,
      killPrimaryRegion: () => sigkill(stack, PRIMARY_REGION_COMPONENTS),
      dryRun: (app: string) => cli(config, ["dr", "failover", "--app", app, "--dry-run"]),
      failover: (app: string) =>
        runTwiceIf(run.crashes, ["dr", "failover", "--app", app], /^stage done: offsets set/),
      restartPrimaryBrokers: async () => {
        await stack.up({ dr: true, only: ["kafka"] });
      },
      restorePrimaryRegion: async () => {
        await stack.up({ dr: true, only: [...PRIMARY_REGION_COMPONENTS] });
      },
      failback:
        run.failback === undefined
          ? undefined
          : {
              dryRun: (app: string) => cli(config, ["dr", "failback", "--app", app, "--dry-run"]),
              run: (app: string, onLine: (line: string) => void) =>
                runTwiceIf(run.crashes, ["dr", "failback", "--app", app], /^\s*frozen:/, onLine),
              afterSeconds: run.failback.afterSeconds,
            },
      write: report,
    });
  } finally {
    report("making the stack whole again (the primary's registry and Connect, MirrorMaker 2) …");
    await stack.up({ dr: true });
  }
}

export function formatDrDrill(r: DrDrillReport): string {
  const list = (ids: readonly string[]) =>
    ids.length === 0 ? "0" : `${ids.length} (${ids.slice(0, 3).join(", ")}…)`;
  const rows = [
    ["application", r.app],
    ["orders placed (after the kill)", `${r.placed} (${r.placedAfterKill})`],
    [
      "RPO: records the primary acknowledged that never reached DR",
      `${r.rpo.records} (the oldest ${r.rpo.seconds.toFixed(1)} s old at the kill)`,
    ],
    [
      "sagastream_dr_rpo_seconds on the primary worker before the kill",
      r.rpoGaugeBeforeKill === undefined ? "-" : r.rpoGaugeBeforeKill.toFixed(1),
    ],
    ["RTO: kill → first saga completed in DR", `${(r.rtoMs / 1000).toFixed(1)} s`],
    ["dr failover took", `${(r.failoverMs / 1000).toFixed(1)} s`],
    ["sagas started before kill − RPO window", String(r.sagas.before)],
    ["  ended once", String(r.sagas.endedOnce)],
    ["  ended twice", list(r.sagas.endedTwice)],
    ["  not ended", list(r.sagas.notEnded)],
    [
      "sagas placed later: ended / not ended",
      `${r.sagas.laterEnded} / ${list(r.sagas.laterNotEnded)}`,
    ],
    ["participant effects twice", list(r.duplicateEffects)],
    [
      "DR status API vs DR log: sagas checked / differing",
      `${r.api.checked} / ${list(r.api.differ)}`,
    ],
    [
      "partitions whose mirrored prefix is not the primary's",
      String(r.rpo.partitions.filter((p) => !p.prefix).length),
    ],
  ];
  const back = r.failback;
  if (back !== undefined) {
    rows.push(
      ["failback: orders placed during and after it", String(back.placedDuring)],
      ["  dr failback took", `${(back.tookMs / 1000).toFixed(1)} s`],
      ["  sagas held still (frozen → live)", `${(back.heldStillMs / 1000).toFixed(1)} s`],
      [
        "  freeze → first saga completed in the primary",
        `${(back.freezeToCompletionMs / 1000).toFixed(1)} s`,
      ],
      [
        "  sagas DR had ended / not ended the same in the primary",
        `${back.drEnded} / ${list(back.lost)}`,
      ],
      ["  every order of the drill, in the primary's log", String(back.sagas.placed)],
      ["    ended once", String(back.sagas.endedOnce)],
      ["    ended twice", list(back.sagas.endedTwice)],
      ["    not ended", list(back.sagas.notEnded)],
      ["  participant effects twice", list(back.duplicateEffects)],
      [
        "  primary status API vs its log: sagas checked / differing",
        `${back.api.checked} / ${list(back.api.differ)}`,
      ],
    );
  }
  return formatTable(["", ""], rows);
}
