/**
 * A region failover of one application: what an operator does when its region is lost (or
 * before taking it down), in journaled stages so that a rerun finishes an interrupted one.
 *
 * 1. fence: where the old region still answers, its layout names the new region (its workers
 *    and participants stand by) and its outbox connectors stop; where it does not, they are
 *    left to die with it.
 * 2. mirror stopped: MirrorMaker 2 no longer copies into the new region, so a returning old
 *    region cannot write into logs the new one now appends to.
 * 3. offsets set: each group of the application resumes in the new region from before anything
 *    whose effects may not have been mirrored (offsets.ts): inputs are read again, and the
 *    engine and the participants ignore what they have seen.
 * 4. changelogs reconciled: the mirrored saga store changelog is made to agree with the
 *    mirrored saga-events log (changelog-reconcile.ts), which the workers restore from.
 * 5. connectors created: the application's outbox connectors in the new region's Connect, each
 *    reading a copy of its old slot (cdc-slots.ts), so the rows of the services' transactions
 *    since the last one the old region confirmed are published again there.
 * 6. activated: the new region's layout names it; its standing-by workers and participants start.
 * 7. done: the workers' group has members again.
 */
import { UsageError } from "../errors/index.js";
import { createAdmin, withAdmin, type KafkaSettings } from "../kafka/index.js";
import type { ConnectClient } from "../outbox/index.js";
import {
  generationId,
  initialLayout,
  layoutRegion,
  layoutTopic,
  LayoutState,
  sagaTopics,
  type AppLayout,
} from "../saga/index.js";
import type { AvroCodec } from "../schema/index.js";
import { reconcileChangelog } from "./changelog-reconcile.js";
import { createConnectors, stopConnectors } from "./dr-connectors.js";
import { waitForEmptyGroups, waitForMember } from "./consumer-groups.js";
import { resumeOffsets, type GroupResume } from "./dr-offsets.js";
import {
  groupsReading,
  readAppLayout,
  readAppTopics,
  TopicRole,
  type AppTopic,
} from "./app-topics.js";
import { ensureLayoutTopic, layoutRecord, writeLayout } from "./layout-writer.js";
import { stageRunner } from "./journaled-stages.js";
import { JobJournal, transact } from "./topic-copier.js";

/** One region as the failover sees it. */
export interface RegionEndpoint {
  /** Its name, as workers' `region` and layouts name it ("primary", "dr"). */
  name: string;
  kafka: KafkaSettings;
  /** Its Kafka Connect, which runs the outbox connectors there. */
  connect?: ConnectClient | undefined;
}

export enum FailoverStage {
  Planned = "planned",
  Fenced = "fenced",
  MirrorStopped = "mirror stopped",
  OffsetsSet = "offsets set",
  ChangelogsReconciled = "changelogs reconciled",
  ConnectorsCreated = "connectors created",
  Activated = "activated",
  Done = "done",
}

const STAGES = Object.values(FailoverStage);

export interface FailoverJob {
  applicationId: string;
  from: string;
  to: string;
  generation: number;
  partitions: number;
  stage: FailoverStage;
  startedAt: number;
  /** Whether the old region's Kafka answered at the fence. */
  fromReachable?: boolean | undefined;
  /** The outbox connectors created in the new region. */
  connectors?: string[] | undefined;
  activatedAt?: number | undefined;
  doneAt?: number | undefined;
}

export interface FailoverOptions {
  applicationId: string;
  from: RegionEndpoint;
  to: RegionEndpoint;
  /** Decodes the saga-events log (the new region's registry). */
  codec: AvroCodec;
  /**
   * Stops MirrorMaker 2 copying into the new region (the local stack's); without it the
   * operator is told to. `fromReachable`: whether the old region still answers (if not, the
   * mirror has nothing left to copy). Returns what it did.
   */
  stopMirror?: ((fromReachable: boolean) => Promise<string>) | undefined;
  /**
   * The old region's Connect config topic as mirrored into the new region: where the
   * application's connectors are found when the old Connect does not answer.
   */
  mirroredConnectConfigs?: string | undefined;
  /** Says what each stage would do; changes nothing. */
  dryRun?: boolean | undefined;
  /** How long the old region has to answer before it counts as lost (ms, default 3 s). */
  reachTimeoutMs?: number | undefined;
  log?: ((line: string) => void) | undefined;
}

export function failoverJournalTopic(applicationId: string): string {
  return `${applicationId}.failover`;
}

const JOB_KEY = "job";
const INPUT_ROLES = new Set([
  TopicRole.Start,
  TopicRole.Replies,
  TopicRole.Control,
  TopicRole.Commands,
]);

/** Whether the cluster answers within `timeoutMs`. */
export async function reachable(kafka: KafkaSettings, timeoutMs: number): Promise<boolean> {
  const admin = createAdmin(kafka, {
    connectTimeoutMs: timeoutMs,
    requestTimeoutMs: timeoutMs,
    retries: 0,
  });
  try {
    const answered = admin.listTopics().then(
      () => true,
      () => false,
    );
    const timer = new Promise<boolean>((resolve) => {
      setTimeout(() => {
        resolve(false);
      }, timeoutMs).unref();
    });
    return await Promise.race([answered, timer]);
  } finally {
    void admin.close().catch(() => undefined);
  }
}

/** One of the application's topics, with its partition count and the groups reading it. */
export interface FailoverTopic extends AppTopic {
  partitions: number;
  groups: string[];
}

/** The application's topics and groups in a region's cluster. */
/** The groups of the application's generation on its topics: its workers' and participants'. */
export function appGroups(
  topics: readonly FailoverTopic[],
  app: string,
  generation: number,
): string[] {
  const workers = generationId(app, generation);
  return [...new Set(topics.flatMap((t) => t.groups))].filter(
    (g) => g === workers || g.startsWith(`${workers}.participant.`),
  );
}

export async function appTopics(kafka: KafkaSettings, app: string): Promise<FailoverTopic[]> {
  return withAdmin(kafka, async (admin) => {
    const found = await readAppTopics(admin, kafka, app);
    const metadata = await admin.metadata({ topics: found.topics.map((t) => t.topic) });
    return found.topics.map((t) => ({
      ...t,
      partitions: metadata.topics.get(t.topic)?.partitionsCount ?? 0,
      groups: groupsReading(found.committed, t.topic),
    }));
  });
}

/** Runs (or finishes) the failover of `applicationId` from one region to another. */
export async function failover(options: FailoverOptions): Promise<FailoverJob> {
  const { applicationId: app, from, to } = options;
  const log = options.log ?? (() => undefined);
  const dryRun = options.dryRun === true;
  const layout =
    (await readAppLayout(to.kafka, app)) ?? initialLayout(await partitionCount(to.kafka, app));
  if (layout.state === LayoutState.Frozen) {
    throw new UsageError(
      `${app} is frozen for a repartition in region ${to.name}: finish the move first`,
    );
  }
  const journal = dryRun ? undefined : await JobJournal.open(to.kafka, failoverJournalTopic(app));
  const producer = journal?.producer(failoverJournalTopic(app));
  try {
    const earlier = journal?.get(JOB_KEY) as FailoverJob | undefined;
    let job: FailoverJob;
    if (earlier !== undefined && earlier.stage !== FailoverStage.Done) {
      if (earlier.to !== to.name) {
        throw new UsageError(
          `a failover of ${app} to region ${earlier.to} is under way (stage "${earlier.stage}"): run it again to finish it`,
        );
      }
      job = earlier;
      log(`resuming the failover of ${app} to region ${to.name} at stage "${job.stage}"`);
    } else if (layoutRegion(layout) === to.name) {
      log(`${app} runs in region ${to.name} already: nothing to do`);
      return (
        earlier ?? {
          applicationId: app,
          from: from.name,
          to: to.name,
          generation: layout.generation,
          partitions: layout.partitions,
          stage: FailoverStage.Done,
          startedAt: layout.at,
        }
      );
    } else {
      job = {
        applicationId: app,
        from: from.name,
        to: to.name,
        generation: layout.generation,
        partitions: layout.partitions,
        stage: FailoverStage.Planned,
        startedAt: Date.now(),
      };
      log(
        `${dryRun ? "would fail" : "failing"} ${app} over from region ${from.name} to ${to.name} (generation ${job.generation}, ${job.partitions} partitions)`,
      );
    }
    const topics = await appTopics(to.kafka, app);
    const groups = appGroups(topics, app, job.generation);
    const inputs = topics.filter((t) => INPUT_ROLES.has(t.role));

    const step = stageRunner({
      stages: STAGES,
      job,
      save:
        dryRun || producer === undefined || journal === undefined
          ? undefined
          : () => transact(producer, journal, [], { [JOB_KEY]: job }),
      log,
    });

    await step(FailoverStage.Fenced, async () => {
      job.fromReachable = await reachable(from.kafka, options.reachTimeoutMs ?? 3_000);
      if (!job.fromReachable) {
        log(
          `region ${from.name} does not answer: not fenced there (its workers stop with it; make sure its Connect does not come back running ${app}'s connectors)`,
        );
        return;
      }
      await fence(options, job, groups, inputs, log);
    });
    await step(FailoverStage.MirrorStopped, async () => {
      if (dryRun || options.stopMirror === undefined) {
        log(
          `${dryRun ? "would stop" : "stop"} MirrorMaker 2 copying from ${from.name} into ${to.name} before ${from.name} comes back: it would append the old region's records to logs ${to.name} now writes`,
        );
        return;
      }
      log(await options.stopMirror(job.fromReachable === true));
    });
    await step(FailoverStage.OffsetsSet, async () => {
      const resumes = await resumeOffsets({
        kafka: to.kafka,
        applicationId: app,
        generation: job.generation,
        groups,
        topics,
        dryRun,
      });
      for (const line of describeResumes(resumes)) log(line);
    });
    await step(FailoverStage.ChangelogsReconciled, async () => {
      const report = await reconcileChangelog({
        kafka: to.kafka,
        codec: options.codec,
        applicationId: app,
        generation: job.generation,
        dryRun,
      });
      log(
        `${report.changelog}: ${report.sagas} saga(s) in the log; ${dryRun ? "would rewrite" : "rewrote"} ${report.rewritten} whose changelog record disagreed with their events, ${dryRun ? "would delete" : "deleted"} ${report.deleted} whose start was not mirrored` +
          (report.undecodable > 0 ? `; ${report.undecodable} log record(s) did not decode` : ""),
      );
    });
    await step(FailoverStage.ConnectorsCreated, async () => {
      job.connectors = await createConnectors({
        applicationId: app,
        from,
        to,
        fromReachable: job.fromReachable === true,
        mirroredConnectConfigs: options.mirroredConnectConfigs,
        inputs: inputs.map((t) => t.topic),
        dryRun,
        log,
      });
    });
    await step(FailoverStage.Activated, async () => {
      const active: AppLayout = {
        generation: job.generation,
        partitions: job.partitions,
        state: LayoutState.Active,
        at: Date.now(),
        region: to.name,
      };
      if (dryRun) {
        log(`would write ${layoutTopic(app)} in ${to.name}: region ${to.name} runs ${app}`);
        return;
      }
      await ensureLayoutTopic(to.kafka, app);
      job.activatedAt = active.at;
      job.stage = FailoverStage.Activated;
      if (producer === undefined || journal === undefined) return;
      await transact(producer, journal, [layoutRecord(app, active)], { [JOB_KEY]: job });
      log(`region ${to.name} runs ${app}: its workers and participants start`);
    });
    await step(FailoverStage.Done, async () => {
      if (dryRun) return;
      const workers = generationId(app, job.generation);
      await withAdmin(to.kafka, (admin) =>
        waitForMember(admin, workers, {
          timeoutMs: 120_000,
          why: `a worker of ${app} in region ${to.name} to join ${workers} (are workers with SAGASTREAM_REGION=${to.name} running there?)`,
        }),
      );
      job.doneAt = Date.now();
      log(
        `${app} runs in region ${to.name}: the failover took ${((job.doneAt - job.startedAt) / 1000).toFixed(1)} s`,
      );
    });
    return job;
  } finally {
    await producer?.close();
  }
}

async function partitionCount(kafka: KafkaSettings, app: string): Promise<number> {
  const topic = sagaTopics(app, 0).events;
  const admin = createAdmin(kafka);
  try {
    const metadata = await admin.metadata({ topics: [topic] }).catch(() => undefined);
    const count = metadata?.topics.get(topic)?.partitionsCount ?? 0;
    if (count === 0) {
      throw new UsageError(
        `no topic ${topic} in the region failed over to: is "${app}" the application's id, and is it mirrored there?`,
      );
    }
    return count;
  } finally {
    await admin.close();
  }
}

/**
 * The old region, still answering: its layout names the new region, so its workers and
 * participants stand by; its connectors writing the application's inputs stop.
 */
async function fence(
  options: FailoverOptions,
  job: FailoverJob,
  groups: readonly string[],
  inputs: readonly FailoverTopic[],
  log: (line: string) => void,
): Promise<void> {
  const { from, to, applicationId: app } = options;
  if (options.dryRun === true) {
    log(
      `would write ${layoutTopic(app)} in ${from.name} naming region ${to.name}, and wait for ${groups.join(", ")} to empty there`,
    );
  } else {
    const fenced: AppLayout = {
      generation: job.generation,
      partitions: job.partitions,
      state: LayoutState.Active,
      at: Date.now(),
      region: to.name,
    };
    await writeLayout(from.kafka, app, fenced, failoverJournalTopic(app));
    log(
      `${layoutTopic(app)} in ${from.name} names region ${to.name}: its workers and participants stand by`,
    );
    const admin = createAdmin(from.kafka);
    try {
      await waitForEmptyGroups(admin, groups, {
        timeoutMs: 60_000,
        why: `${groups.join(", ")} in region ${from.name} to empty: a worker or participant there does not follow the layout`,
        log,
      });
    } finally {
      await admin.close();
    }
  }
  await stopConnectors(
    from,
    inputs.map((t) => t.topic),
    options.dryRun === true,
    log,
  );
}

function describeResumes(resumes: readonly GroupResume[]): string[] {
  return resumes.map(
    (r) =>
      `group ${r.group}: ${r.partitions} partition(s) set from MirrorMaker 2's checkpoints, ${r.reread} record(s) before the newest read again` +
      (r.unchecked > 0 ? `; ${r.unchecked} partition(s) without a checkpoint` : ""),
  );
}
