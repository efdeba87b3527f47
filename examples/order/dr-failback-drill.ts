/**
 * The failback half of the DR drill (dr-drill.ts): the application runs in DR after a failover;
 * the primary region comes back (its Connect with the connectors it had, publishing into the
 * old generation); `sagastream dr failback` fences it, moves the application into the next
 * generation there and names it in both layouts, while orders keep coming. The primary's worker
 * and participants start once it is fenced, standing by until the switch. Measured: how long
 * the failback took, how long sagas were held still, and from the freeze to the first saga
 * completed in the primary. Checked on the primary's new log: every saga DR had ended ended the
 * same there (nothing DR accepted lost), every order placed in the whole drill ends once, no
 * participant effect twice, the primary's status API says what its log says.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import type { AvroCodec, KafkaSettings } from "sagastream";
import type { ChildProcess } from "./child-process.js";
import {
  compareApi,
  duplicateEffects,
  endedOnce,
  followEnds,
  waitFor,
  type SagaEnds,
} from "./dr-drill-checks.js";

export interface FailbackReport {
  /** What `dr failback --dry-run` said before it ran, and what `dr failback` said (every run). */
  dryRun: string;
  said: string;
  /** How long `dr failback` took, and how long sagas were held still in it. */
  tookMs: number;
  heldStillMs: number;
  /** From the freeze to the first saga completed in the primary. */
  freezeToCompletionMs: number;
  /** Orders placed from the failback's start. */
  placedDuring: number;
  /** Sagas DR had ended, and those of them not ended the same in the primary's log. */
  drEnded: number;
  lost: string[];
  /** Every order of the drill, in the primary's new log. */
  sagas: { placed: number; endedOnce: number; endedTwice: string[]; notEnded: string[] };
  duplicateEffects: string[];
  api: { checked: number; differ: string[] };
}

export interface FailbackPhase {
  app: string;
  pool: pg.Pool;
  primaryKafka: KafkaSettings;
  primaryCodec: AvroCodec;
  /** Sagas ended in DR's log before the failback. */
  drEnds: SagaEnds;
  placedAt: ReadonlyMap<string, number>;
  /** Starts placing orders again; the function returned stops it. */
  startTraffic: () => () => Promise<void>;
  /** The primary's worker and participants (standing by until the layout names the primary). */
  startPrimary: () => Promise<ChildProcess>;
  /** Brings the primary's registry and Connect back. */
  restorePrimaryRegion: () => Promise<void>;
  dryRun: (app: string) => Promise<string>;
  /**
   * `dr failback --app <app>` (killed and run again, if the caller likes): what it printed;
   * `onLine` hears each line as it is printed.
   */
  failback: (app: string, onLine: (line: string) => void) => Promise<string>;
  afterFailbackSeconds: number;
  stepTimeoutMs: number;
  write: (line: string) => void;
}

export async function runFailbackPhase(phase: FailbackPhase): Promise<FailbackReport> {
  const { app, write } = phase;
  write("bringing the primary region back (its registry and Connect) …");
  await phase.restorePrimaryRegion();
  const dryRun = await phase.dryRun(app);
  const started = Date.now();
  const stopTraffic = phase.startTraffic();
  const marks: { beganAt?: number; frozenAt?: number; liveAt?: number; doneAt?: number } = {};
  const fenced = { resolve: (): void => undefined };
  const isFenced = new Promise<void>((resolve) => {
    fenced.resolve = resolve;
  });
  write("failing back to the primary while orders keep coming …");
  const failingBack = phase.failback(app, (line) => {
    if (line.startsWith("stage done: fenced")) fenced.resolve();
    if (line.includes(" back from region ")) marks.beganAt ??= Date.now();
    if (line.trimStart().startsWith("frozen:")) marks.frozenAt ??= Date.now();
    if (line.includes(" is live in region ")) marks.liveAt ??= Date.now();
    if (line.includes(` runs in region `) && line.includes(" again ")) marks.doneAt ??= Date.now();
  });
  const finished = failingBack.then((output) => ({ output, at: Date.now() }));
  await Promise.race([isFenced, failingBack]);
  const primary = await phase.startPrimary();
  const { output, at: finishedAt } = await finished;
  // until it said it was done (its process may take a moment more to exit)
  const tookMs = (marks.doneAt ?? finishedAt) - started;
  write(
    `dr failback began its job ${(marks.beganAt ?? started) - started} ms in, said it was done ${tookMs} ms in, and exited ${finishedAt - started} ms in`,
  );
  const heldStill = /sagas held still ([\d.]+) s/.exec(output)?.[1];

  let firstCompletion: number | undefined;
  const after = marks.liveAt ?? started;
  const follower = await followEnds(
    phase.primaryKafka,
    app,
    `${app}-drill-primary`,
    phase.primaryCodec,
    (at) => {
      if (at > after) firstCompletion ??= at;
    },
  );
  try {
    await waitFor("the first saga completed in the primary", 180_000, () => {
      return firstCompletion !== undefined;
    });
    await sleep(phase.afterFailbackSeconds * 1000);
    await stopTraffic();
    const placed = [...phase.placedAt.keys()];
    write(`${placed.length} orders placed in all; waiting for their sagas to end in the primary …`);
    await waitFor("every saga to end in the primary", 120_000 + 4 * phase.stepTimeoutMs, () =>
      placed.every((id) => follower.ends.has(id)),
    ).catch((error: unknown) => {
      write(String(error));
    });
    const { ends } = follower;
    const lost = [...phase.drEnds]
      .filter(([id, list]) => ends.get(id)?.[0]?.type !== list[0]?.type)
      .map(([id]) => id);
    return {
      dryRun,
      said: output,
      tookMs,
      heldStillMs: heldStill === undefined ? Number.NaN : Number(heldStill) * 1000,
      freezeToCompletionMs: (firstCompletion ?? Number.NaN) - (marks.frozenAt ?? started),
      placedDuring: [...phase.placedAt.values()].filter((at) => at >= started).length,
      drEnded: phase.drEnds.size,
      lost,
      sagas: { placed: placed.length, ...endedOnce(placed, ends) },
      duplicateEffects: await duplicateEffects(phase.pool, app),
      api: await compareApi(primary.said.get("api") ?? "", ends),
    };
  } finally {
    await follower.stop();
  }
}
