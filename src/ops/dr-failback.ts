/**
 * A failback: the application, failed over to another region, moved back to its home region
 * once that answers again, with nothing lost that the other region accepted, in journaled
 * stages (`<app>.failback` in the home region) so that a rerun finishes an interrupted one.
 *
 * The home region's logs cannot take the other region's records where they stand: they hold
 * records that were never mirrored (the failover's RPO window, what its connectors published
 * as it went down), so the two regions' logs diverge past what they share. The failback makes
 * the application's next generation in the home region instead, with a repartition across
 * clusters (repartition.ts `into`, exactly once, the history copied while the application still
 * runs and only the rest during the freeze):
 *
 * 1. fenced: the home region's layout names the region the application runs in, frozen, so its
 *    workers and participants (started again with the region) stand by, and its connectors,
 *    back with its Connect and publishing from their old slots into the old topics, stop;
 * 2. moved: the next generation made in the home region (copy the history online, freeze the
 *    other region, copy the rest and the unconsumed inputs, the connectors taken over in the
 *    home Connect on copies of the other region's slots, both layouts naming the home region);
 * 3. mirror restarted: MirrorMaker 2 copies from the home region again, the old generation's
 *    topics excluded (theirs diverge);
 * 4. old connectors removed: the other region's, and their slots (which would hold the WAL);
 * 5. done: a worker of the home region has joined the new generation's group.
 *
 * The old generation's topics stay in both regions for the operator: what the home region
 * holds that the other never got is listed by `replicationLoss`.
 */
import { UsageError } from "../errors/index.js";
import { createAdmin, withAdmin } from "../kafka/index.js";
import { generationId, layoutRegion, LayoutState, type AppLayout } from "../saga/index.js";
import { readAppLayout, TopicRole } from "./app-topics.js";
import { connectorConfigs, connectorsWriting } from "./connector-routes.js";
import { waitForEmptyGroups, waitForMember } from "./consumer-groups.js";
import { onSlotCopy, removeConnectors, stopConnectors } from "./dr-connectors.js";
import { appGroups, appTopics, reachable, type RegionEndpoint } from "./dr-failover.js";
import { writeLayout } from "./layout-writer.js";
import { MoveStage, repartition, repartitionJournalTopic } from "./repartition.js";
import { stageRunner } from "./journaled-stages.js";
import { JobJournal, transact } from "./topic-copier.js";

export enum FailbackStage {
  Planned = "planned",
  Fenced = "fenced",
  Moved = "moved",
  MirrorRestarted = "mirror restarted",
  OldConnectorsRemoved = "old connectors removed",
  Done = "done",
}

const STAGES = Object.values(FailbackStage);

export interface FailbackJob {
  applicationId: string;
  /** The region the application ran in, and its home region it returns to. */
  from: string;
  to: string;
  /** The generation it ran in, and the one made in the home region. */
  generation: number;
  nextGeneration: number;
  partitions: number;
  stage: FailbackStage;
  startedAt: number;
  /** How long its sagas were held still (frozen → live). */
  frozenMs?: number | undefined;
  /** The old generation's topics, left out of the mirror. */
  oldTopics?: string[] | undefined;
  /** The outbox connectors taken over by the home region. */
  connectors?: string[] | undefined;
  doneAt?: number | undefined;
}

export interface FailbackOptions {
  applicationId: string;
  /** The region the application runs in now. */
  from: RegionEndpoint;
  /** Its home region, answering again. */
  to: RegionEndpoint;
  /**
   * Starts MirrorMaker 2 copying from `to` into `from` again with `exclude` left out (the local
   * stack's); without it the operator is told to. Returns what it did.
   */
  restartMirror?: ((exclude: readonly string[]) => Promise<string>) | undefined;
  /** Says what each stage would do; changes nothing. */
  dryRun?: boolean | undefined;
  /** How long groups may take to empty and topics to stand still (ms, default 120 s). */
  freezeTimeoutMs?: number | undefined;
  log?: ((line: string) => void) | undefined;
}

export function failbackJournalTopic(applicationId: string): string {
  return `${applicationId}.failback`;
}

const JOB_KEY = "job";
const INPUT_ROLES = new Set([TopicRole.Start, TopicRole.Replies]);

/** Runs (or finishes) the failback of `applicationId` from `from` to its home region `to`. */
export async function failback(options: FailbackOptions): Promise<FailbackJob> {
  const { applicationId: app, from, to } = options;
  const log = options.log ?? (() => undefined);
  const dryRun = options.dryRun === true;
  if (!(await reachable(to.kafka, 3_000))) {
    throw new UsageError(
      `region ${to.name} does not answer: bring its Kafka back (and its Connect, without ${app}'s workers) before failing back`,
    );
  }
  // (a dry run writes nothing, not even the journal's topic)
  const journal = dryRun ? undefined : await JobJournal.open(to.kafka, failbackJournalTopic(app));
  const producer = journal?.producer(failbackJournalTopic(app));
  try {
    const earlier = journal?.get(JOB_KEY) as FailbackJob | undefined;
    let job: FailbackJob;
    if (earlier !== undefined && earlier.stage !== FailbackStage.Done) {
      job = earlier;
      log(`resuming the failback of ${app} to region ${to.name} at stage "${job.stage}"`);
    } else {
      const layout = await readAppLayout(from.kafka, app);
      if (layout === undefined || layoutRegion(layout) !== from.name) {
        log(
          `${app} does not run in region ${from.name}${layout === undefined ? "" : ` (its layout there names ${layoutRegion(layout)})`}: nothing to do`,
        );
        return earlier ?? plannedJob(options, layout ?? undefined);
      }
      job = plannedJob(options, layout);
      log(
        `${dryRun ? "would fail" : "failing"} ${app} back from region ${from.name} to ${to.name}: generation ${job.generation} there becomes generation ${job.nextGeneration} in ${to.name} (${job.partitions} partitions)`,
      );
    }
    const step = stageRunner({
      stages: STAGES,
      job,
      save:
        producer === undefined || journal === undefined
          ? undefined
          : () => transact(producer, journal, [], { [JOB_KEY]: job }),
      log,
    });

    await step(FailbackStage.Fenced, () => fence(options, job, log));
    await step(FailbackStage.Moved, async () => {
      if (dryRun) {
        await describeMove(options, job, log);
        return;
      }
      const moved = await repartition({
        kafka: from.kafka,
        connect: from.connect,
        applicationId: app,
        partitions: job.partitions,
        freezeTimeoutMs: options.freezeTimeoutMs,
        into: {
          region: to.name,
          kafka: to.kafka,
          connect: to.connect,
          connectorConfig: (config) => onSlotCopy(config, from.name, to.name, log),
        },
        log: (line) => {
          log(`  ${line}`);
        },
      });
      if (moved.stage !== MoveStage.Done) {
        throw new Error(`the move into ${to.name} stopped at stage "${moved.stage}"`);
      }
      job.nextGeneration = moved.to.generation;
      job.oldTopics = moved.topics.map((t) => t.topic);
      job.connectors = (moved.connectors ?? []).map((c) => c.name);
      job.frozenMs = (moved.switchedAt ?? 0) - (moved.frozenAt ?? 0);
    });
    await step(FailbackStage.MirrorRestarted, async () => {
      const exclude = job.oldTopics ?? [];
      if (dryRun || options.restartMirror === undefined) {
        log(
          `${dryRun ? "would start" : "start"} MirrorMaker 2 from ${to.name} into ${from.name} again, leaving out generation ${job.generation}'s topics (they diverge): ${exclude.length > 0 ? exclude.join(", ") : "the old generation's topics"}`,
        );
        return;
      }
      log(await options.restartMirror(exclude));
    });
    await step(FailbackStage.OldConnectorsRemoved, () =>
      removeConnectors(from, job.connectors ?? [], dryRun, log),
    );
    await step(FailbackStage.Done, async () => {
      if (dryRun) return;
      const workers = generationId(app, job.nextGeneration);
      await withAdmin(to.kafka, (admin) =>
        waitForMember(admin, workers, {
          timeoutMs: 120_000,
          why: `a worker of ${app} in region ${to.name} to join ${workers} (are workers with SAGASTREAM_REGION=${to.name} running there?)`,
        }),
      );
      job.doneAt = Date.now();
      log(
        `${app} runs in region ${to.name} again (generation ${job.nextGeneration}): the failback took ${((job.doneAt - job.startedAt) / 1000).toFixed(1)} s, sagas held still ${((job.frozenMs ?? 0) / 1000).toFixed(1)} s`,
      );
    });
    return job;
  } finally {
    await producer?.close();
  }
}

function plannedJob(options: FailbackOptions, layout: AppLayout | undefined): FailbackJob {
  const generation = layout?.generation ?? 0;
  return {
    applicationId: options.applicationId,
    from: options.from.name,
    to: options.to.name,
    generation,
    nextGeneration: generation + 1,
    partitions: layout?.partitions ?? 0,
    stage: FailbackStage.Planned,
    startedAt: Date.now(),
  };
}

/**
 * The home region, back: its layout names the region the application runs in (frozen, so
 * nothing starts there on the old generation), its groups empty, its connectors stopped.
 */
async function fence(
  options: FailbackOptions,
  job: FailbackJob,
  log: (line: string) => void,
): Promise<void> {
  const { from, to, applicationId: app } = options;
  const topics = await appTopics(from.kafka, app);
  const groups = appGroups(topics, app, job.generation);
  const inputs = topics.filter((t) => INPUT_ROLES.has(t.role)).map((t) => t.topic);
  if (options.dryRun === true) {
    log(
      `would write the layout in ${to.name} naming region ${from.name} (frozen), wait for ${groups.join(", ")} to empty there, and stop its connectors writing ${inputs.join(", ")}`,
    );
    await stopConnectors(to, inputs, true, log);
    return;
  }
  const fenced: AppLayout = {
    generation: job.generation,
    partitions: job.partitions,
    state: LayoutState.Frozen,
    next: { generation: job.nextGeneration, partitions: job.partitions },
    at: Date.now(),
    region: from.name,
  };
  await writeLayout(to.kafka, app, fenced, `${failbackJournalTopic(app)}.layout`);
  log(`the layout in ${to.name} names region ${from.name}: its workers and participants stand by`);
  await stopConnectors(to, inputs, false, log);
  const admin = createAdmin(to.kafka);
  try {
    await waitForEmptyGroups(admin, groups, {
      timeoutMs: options.freezeTimeoutMs ?? 120_000,
      why: `${groups.join(", ")} in region ${to.name} to empty: a worker or participant there does not follow the layout`,
      log,
    });
  } finally {
    await admin.close();
  }
}

/** What the move would do, for the dry run. */
async function describeMove(
  options: FailbackOptions,
  job: FailbackJob,
  log: (line: string) => void,
): Promise<void> {
  const { from, to, applicationId: app } = options;
  const topics = await appTopics(from.kafka, app);
  log(
    `would move generation ${job.generation} of ${from.name} into generation ${job.nextGeneration} of ${to.name} (journaled in ${repartitionJournalTopic(app)} there): copy ${topics
      .filter((t) => t.role === TopicRole.Events || t.role === TopicRole.Changelog)
      .map((t) => t.topic)
      .join(
        ", ",
      )} while it runs; freeze it in ${from.name}; copy the rest and what its groups had not consumed of ${topics
      .filter((t) => [...INPUT_ROLES, TopicRole.Control, TopicRole.Commands].includes(t.role))
      .map((t) => t.topic)
      .join(", ")}; name ${to.name} in both layouts`,
  );
  const configs = from.connect === undefined ? new Map() : await connectorConfigs(from.connect);
  const inputs = topics.filter((t) => INPUT_ROLES.has(t.role)).map((t) => t.topic);
  for (const { name, config } of connectorsWriting(configs, inputs)) {
    log(
      `would stop connector ${name} in ${from.name} and run it in ${to.name} on a copy of its slot ${config["slot.name"] ?? "?"}`,
    );
  }
}
