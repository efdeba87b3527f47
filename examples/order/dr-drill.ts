/**
 * The disaster-recovery drill: the order sagas run at a steady rate in the primary region,
 * with a standing-by worker and participants in the DR region; the primary region is lost
 * (its brokers, registry and Connect SIGKILLed with its worker and participants); the
 * application fails over to DR (`sagastream dr failover`) while orders keep coming; the run
 * continues there. Measured: the RPO (records the primary acknowledged that never reached DR,
 * and how old the oldest of them was at the kill, read once the primary broker is back), the
 * RTO (from the kill to the first saga DR completed). Checked: every saga started before the
 * kill minus the RPO window ends once; no participant effect happened twice; DR's status API
 * says what DR's log says. Then, if asked, the failback (dr-failback-drill.ts).
 */
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import {
  AvroCodec,
  ConnectClient,
  createSchemaRegistry,
  replicationLoss,
  topicOffsets,
  withAdmin,
  type KafkaSettings,
  type PartitionLoss,
} from "sagastream";
import { startChild, type ChildProcess } from "./child-process.js";
import {
  compareApi,
  duplicateEffects,
  endedOnce,
  followEnds,
  gauge,
  waitFor,
} from "./dr-drill-checks.js";
import { runFailbackPhase, type FailbackReport } from "./dr-failback-drill.js";
import { startOrderService } from "./order-service.js";
import type { ParticipantsProcessOptions } from "./participants-process.js";
import type { OrderData } from "./saga.js";
import type { WorkerOptions } from "./worker.js";

export interface RegionConnections {
  kafkaBrokers: string[];
  schemaRegistryUrl: string;
  connectUrl: string;
}

export interface DrDrillOptions {
  primary: RegionConnections;
  dr: RegionConnections;
  databaseUrl: string;
  cdcDatabaseUrl: string;
  /** Orders placed per second, before and after the kill (default 20). */
  rate?: number;
  /** Seconds of orders before the kill (default 20) and after the failover (default 20). */
  beforeKillSeconds?: number;
  afterFailoverSeconds?: number;
  stepTimeoutMs?: number;
  /** SIGKILLs the primary region's JVMs (brokers, registry, Connect); the drill kills its own processes. */
  killPrimaryRegion: () => Promise<void>;
  /** What a failover would do (`dr failover --dry-run`), asked before the kill. */
  dryRun: (app: string) => Promise<string>;
  /** Fails the application over (the CLI's `dr failover --app <app>`): what it printed. */
  failover: (app: string) => Promise<string>;
  /** Brings the primary's brokers back, to read what never reached DR. */
  restartPrimaryBrokers: () => Promise<void>;
  /** Brings the rest of the primary region back (its registry and Connect). */
  restorePrimaryRegion: () => Promise<void>;
  /** Then fails back to the primary (`dr failback`), orders coming all the while. */
  failback?:
    | {
        dryRun: (app: string) => Promise<string>;
        run: (app: string, onLine: (line: string) => void) => Promise<string>;
        /** Seconds of orders once it is back (default 20). */
        afterSeconds?: number;
      }
    | undefined;
  write: (line: string) => void;
}

export interface DrDrillReport {
  app: string;
  placed: number;
  placedAfterKill: number;
  killAt: number;
  /** How long `dr failover` took. */
  failoverMs: number;
  /** From the kill to the first saga completed in DR. */
  rtoMs: number;
  /** Over the application's topics but its changelogs (derived from its log). */
  rpo: { records: number; seconds: number; partitions: PartitionLoss[] };
  sagas: {
    /** Orders placed before the kill minus the RPO window. */
    before: number;
    endedOnce: number;
    endedTwice: string[];
    notEnded: string[];
    /** Orders placed after it (or in it) that ended. */
    laterEnded: number;
    laterNotEnded: string[];
  };
  /** What `dryRun` said. */
  dryRun: string;
  /** What the failover said, and what it said when run again once over. */
  failoverSaid: string;
  failoverRerun: string;
  /** The primary worker's `sagastream_dr_rpo_seconds` just before the kill. */
  rpoGaugeBeforeKill: number | undefined;
  /** Orders with an effect twice (two payments, reservations, shipments or refunds). */
  duplicateEffects: string[];
  api: { checked: number; differ: string[] };
  failback?: FailbackReport | undefined;
}

const PARTITIONS = 6;

function order(run: string, i: number): OrderData {
  return {
    orderId: `${run}-order-${String(i).padStart(5, "0")}`,
    customerId: `customer-${i % 97}`,
    amountCents: 500 + ((i * 37) % 10_000),
    items: [{ sku: `sku-${i % 23}`, quantity: 1 + (i % 3) }],
  };
}

export async function runDrDrill(options: DrDrillOptions): Promise<DrDrillReport> {
  const { write } = options;
  const rate = options.rate ?? 20;
  const stepTimeoutMs = options.stepTimeoutMs ?? 5_000;
  const app = `drill_${Date.now().toString(36)}`;
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 8 });
  const primaryCodec = new AvroCodec(createSchemaRegistry(options.primary.schemaRegistryUrl));
  const drCodec = new AvroCodec(createSchemaRegistry(options.dr.schemaRegistryUrl));
  const drKafka: KafkaSettings = { brokers: options.dr.kafkaBrokers, clientId: app };
  const children: ChildProcess[] = [];
  const traffic = { on: false, placing: Promise.resolve() };
  const child = async (script: string, childOptions: object, region: string) => {
    const started = await startChild(script, childOptions, { SAGASTREAM_REGION: region });
    children.push(started);
    return started;
  };
  try {
    write(
      `drill ${app}: the order service, a worker and participants in the primary region, standing by in DR …`,
    );
    const orders = await startOrderService({
      pool,
      connect: new ConnectClient(options.primary.connectUrl),
      codec: primaryCodec,
      cdcDatabaseUrl: options.cdcDatabaseUrl,
      name: `${app}_orders`,
    });
    const worker = (region: string, c: RegionConnections, stateDir: string, drBrokers?: string[]) =>
      child(
        "./worker.js",
        {
          applicationId: app,
          brokers: c.kafkaBrokers,
          schemaRegistryUrl: c.schemaRegistryUrl,
          orderService: orders.name,
          partitions: PARTITIONS,
          stepTimeoutMs,
          stateDir,
          logLevel: "error",
          region,
          ...(drBrokers === undefined ? {} : { drBrokers }),
        } satisfies WorkerOptions,
        region,
      );
    const participants = (
      region: string,
      c: RegionConnections,
      connectorsElsewhere = region !== "primary",
    ) =>
      child(
        "./participants-process.js",
        {
          applicationId: app,
          brokers: c.kafkaBrokers,
          schemaRegistryUrl: c.schemaRegistryUrl,
          databaseUrl: options.databaseUrl,
          cdcDatabaseUrl: options.cdcDatabaseUrl,
          connectUrl: c.connectUrl,
          faults: { failureRate: 0.1, timeoutRate: 0 },
          slowMs: stepTimeoutMs + 500,
          schemaPrefix: `${app}_`,
          concurrency: PARTITIONS,
          region,
          connectorsElsewhere,
        } satisfies ParticipantsProcessOptions,
        region,
      );
    const tmp = (name: string) => mkdtemp(path.join(os.tmpdir(), `${app}-${name}-`));
    const primaryWorker = await worker(
      "primary",
      options.primary,
      await tmp("primary"),
      options.dr.kafkaBrokers,
    );
    const primaryParticipants = await participants("primary", options.primary);
    const drWorker = await worker("dr", options.dr, await tmp("dr"));
    await participants("dr", options.dr);
    const drApi = drWorker.said.get("api") ?? "";

    // DR's saga-events log as it grows: mirrored first, then written by DR's worker.
    let firstDrCompletion: number | undefined;
    let killAt = Number.POSITIVE_INFINITY;
    const watcher = await followEnds(drKafka, app, `${app}-drill-watcher`, drCodec, (at) => {
      if (at > killAt) firstDrCompletion ??= at;
    });
    const { ends } = watcher;

    const placedAt = new Map<string, number>();
    let next = 0;
    const startTraffic = () => {
      traffic.on = true;
      const first = next;
      traffic.placing = (async () => {
        const started = Date.now();
        while (traffic.on) {
          const due = started + ((next - first) / rate) * 1000;
          if (due > Date.now()) await sleep(due - Date.now());
          const o = order(app, next);
          next += 1;
          await orders.place(o);
          placedAt.set(o.orderId, Date.now());
        }
      })();
      // (awaited later; a failure must not go unhandled meanwhile)
      traffic.placing.catch(() => undefined);
      return async () => {
        traffic.on = false;
        await traffic.placing;
      };
    };
    const stopTraffic = startTraffic();

    await sleep((options.beforeKillSeconds ?? 20) * 1000);
    const rpoGauge = await gauge(primaryWorker.said.get("api") ?? "", "sagastream_dr_rpo_seconds");
    const dryRun = await options.dryRun(app);
    write(
      `${placedAt.size} orders placed; ${ends.size} sagas ended (mirrored to DR); losing the primary region …`,
    );
    killAt = Date.now();
    await Promise.all([
      options.killPrimaryRegion(),
      primaryWorker.kill(),
      primaryParticipants.kill(),
    ]);
    // What DR holds now is what was mirrored: nothing more comes from a dead primary.
    await sleep(1_000);
    const mirroredEnds = await appTopicEnds(drKafka, app, orders.topic);
    write(`primary region lost at ${new Date(killAt).toISOString()}; failing over …`);
    const failoverStarted = Date.now();
    const failoverSaid = await options.failover(app);
    const failoverMs = Date.now() - failoverStarted;
    write(`failover done in ${(failoverMs / 1000).toFixed(1)} s; orders keep coming …`);
    await waitFor("the first saga completed in DR", 180_000, () => firstDrCompletion !== undefined);
    const rtoMs = (firstDrCompletion ?? Date.now()) - killAt;
    await sleep((options.afterFailoverSeconds ?? 20) * 1000);
    await stopTraffic();
    const placedAfterKill = [...placedAt.values()].filter((at) => at >= killAt).length;
    write(
      `${placedAt.size} orders placed (${placedAfterKill} after the kill); waiting for their sagas to end in DR …`,
    );
    await waitFor("every saga to end", 120_000 + 4 * stepTimeoutMs, () =>
      [...placedAt.keys()].every((id) => ends.has(id)),
    ).catch((error: unknown) => {
      write(String(error));
    });
    await watcher.stop();

    write("bringing the primary's brokers back to count what never reached DR …");
    await options.restartPrimaryBrokers();
    const partitions: PartitionLoss[] = [];
    for (const [topic, drEnds] of mirroredEnds) {
      partitions.push(
        ...(await replicationLoss({
          primary: { brokers: options.primary.kafkaBrokers, clientId: app },
          dr: drKafka,
          topic,
          drEnds,
        })),
      );
    }
    const lost = partitions.reduce((n, p) => n + p.lost, 0);
    const oldest = Math.min(...partitions.map((p) => p.oldestLostAt ?? Number.POSITIVE_INFINITY));
    const rpoSeconds = lost === 0 ? 0 : Math.max(0, (killAt - oldest) / 1000);

    const windowStart = killAt - rpoSeconds * 1000;
    const before = [...placedAt].filter(([, at]) => at < windowStart).map(([id]) => id);
    const later = [...placedAt].filter(([, at]) => at >= windowStart).map(([id]) => id);
    const report: DrDrillReport = {
      app,
      placed: placedAt.size,
      placedAfterKill,
      killAt,
      failoverMs,
      rtoMs,
      rpo: { records: lost, seconds: rpoSeconds, partitions },
      sagas: {
        before: before.length,
        ...endedOnce(before, ends),
        laterEnded: later.filter((id) => ends.has(id)).length,
        laterNotEnded: later.filter((id) => !ends.has(id)),
      },
      rpoGaugeBeforeKill: rpoGauge,
      dryRun,
      duplicateEffects: await duplicateEffects(pool, app),
      api: await compareApi(drApi, ends),
      failoverSaid,
      failoverRerun: await options.failover(app),
    };
    if (options.failback === undefined) return report;
    const { failback } = options;
    report.failback = await runFailbackPhase({
      app,
      pool,
      primaryKafka: { brokers: options.primary.kafkaBrokers, clientId: app },
      primaryCodec,
      drEnds: ends,
      placedAt,
      startTraffic,
      startPrimary: async () => {
        // its connectors are the failback's to take over
        await participants("primary", options.primary, true);
        return worker("primary", options.primary, await tmp("primary-back"));
      },
      restorePrimaryRegion: options.restorePrimaryRegion,
      dryRun: failback.dryRun,
      failback: failback.run,
      afterFailbackSeconds: failback.afterSeconds ?? 20,
      stepTimeoutMs,
      write,
    });
    return report;
  } finally {
    traffic.on = false;
    await traffic.placing.catch(() => undefined);
    for (const c of children.reverse()) await c.stop().catch(() => undefined);
    await options.restorePrimaryRegion();
    await removeConnectors(pool, [options.primary, options.dr], app);
    await pool.end();
  }
}

/**
 * The drill's connectors in both regions (the primary's came back with its Connect), and their
 * replication slots, which would otherwise hold the WAL.
 */
async function removeConnectors(
  pool: pg.Pool,
  regions: readonly RegionConnections[],
  app: string,
): Promise<void> {
  for (const region of regions) {
    const connect = new ConnectClient(region.connectUrl);
    const names = (await connect.list().catch(() => [])).filter((n) => n.startsWith(`${app}_`));
    for (const name of names) await connect.delete(name).catch(() => undefined);
  }
  const slots = `${app.replaceAll("_", "\\_")}\\_%`;
  for (let attempt = 0; attempt < 20; attempt += 1) {
    await pool.query(
      "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name LIKE $1 AND active",
      [slots],
    );
    await pool.query(
      "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE $1 AND NOT active",
      [slots],
    );
    const { rows } = await pool.query(
      "SELECT 1 FROM pg_replication_slots WHERE slot_name LIKE $1",
      [slots],
    );
    if (rows.length === 0) return;
    await sleep(500);
  }
}

/** The end offsets of the application's topics (not its changelogs) in a cluster. */
async function appTopicEnds(
  kafka: KafkaSettings,
  app: string,
  orderTopic: string,
): Promise<Map<string, bigint[]>> {
  return withAdmin(kafka, async (admin) => {
    const topics = (await admin.listTopics()).filter(
      (t) =>
        t === orderTopic ||
        (t.startsWith(`${app}.`) && !t.endsWith("-changelog") && !t.startsWith(`${app}.drill`)),
    );
    const ends = new Map<string, bigint[]>();
    for (const topic of topics) {
      const offsets = await topicOffsets(admin, topic);
      ends.set(
        topic,
        offsets.map((o) => o.high),
      );
    }
    return ends;
  });
}
