/**
 * `sagastream repartition`: moves a live application to another partition count with its
 * state, as a new generation of its topics (saga/generations.ts), in stages journaled in
 * `<app>.repartition` so that a run killed at any point is finished by the next:
 *
 * 1. prepare: the next generation's topics, with the new partition count;
 * 2. copy the history online (saga-events, changelogs) while the application runs;
 * 3. freeze: the layout says so; workers and participants leave their groups; the connectors
 *    writing the start and reply topics stop (services keep writing their outbox tables); the
 *    topics' ends stand still, every transaction on them decided;
 * 4. copy the rest: the history since stage 2, and each input's records its group had not
 *    consumed;
 * 5. switch: the connectors routed to the new names, the layout names the next generation live
 *    (workers and participants start on it, restoring their stores from the new changelogs),
 *    the connectors resumed.
 *
 * No key is ever live on two partitions: the next generation starts only after the old
 * groups are empty, and the copy keeps each key's records in their order (copySpans).
 *
 * The next generation may be made in another region's cluster (`into`: a failback, with the
 * same partition count): the copies read the application's cluster and write the other, whose
 * connectors take over the application's outbox (their config from the old region's, through
 * `into.connectorConfig`), and both layouts name the new region.
 */
import { FetchIsolationLevels, ListOffsetTimestamps } from "@platformatic/kafka";
import { UsageError } from "../errors/index.js";
import {
  createAdmin,
  ensureTopics,
  topicOffsets,
  type KafkaAdmin,
  type KafkaSettings,
} from "../kafka/index.js";
import type { ConnectClient } from "../outbox/index.js";
import { generationId, LayoutState, sagaIdOfStoreKey, type AppLayout } from "../saga/index.js";
import { waitUntil } from "../util/index.js";
export type { MoveTarget } from "./move-connectors.js";
import { groupOffsets, waitForEmptyGroups } from "./consumer-groups.js";
import {
  reroute,
  stopRoutedConnectors,
  takeOver,
  type ConnectorRoute,
  type MoveTarget,
} from "./move-connectors.js";
import { layoutRecord, writeLayout } from "./layout-writer.js";
import { TopicRole } from "./app-topics.js";
import { planRepartition } from "./repartition-plan.js";
import { stageRunner } from "./journaled-stages.js";
import { copySpans, JobJournal, transact, type CopySpan } from "./topic-copier.js";

export enum MoveStage {
  Planned = "planned",
  Prepared = "prepared",
  HistoryCopied = "history copied",
  Frozen = "frozen",
  RestCopied = "rest copied",
  Switched = "switched",
  /** The connectors resumed: the move is over. */
  Done = "done",
}

interface JobTopic {
  topic: string;
  role: TopicRole;
  newTopic: string;
  /** The group whose unconsumed records are copied (inputs). */
  tailGroup?: string | undefined;
}

export interface RepartitionJob {
  applicationId: string;
  from: { generation: number; partitions: number; region?: string | undefined };
  /** `region`: where the next generation is made, when not in the application's own cluster. */
  to: { generation: number; partitions: number; region?: string | undefined };
  topics: JobTopic[];
  stage: MoveStage;
  /** The connectors stopped at the freeze, and their routes. */
  connectors?: ConnectorRoute[] | undefined;
  /** When the old generation was frozen, and when the next went live: the unavailable time. */
  frozenAt?: number | undefined;
  switchedAt?: number | undefined;
  /** Each old topic's end per partition once frozen (decimal strings). */
  ends?: Record<string, string[]> | undefined;
  startedAt: number;
}

export interface RepartitionOptions {
  kafka: KafkaSettings;
  /** Kafka Connect's REST API, to stop and reroute the connectors writing the inputs. */
  connect?: ConnectClient | undefined;
  applicationId: string;
  partitions: number;
  startTopics?: readonly string[] | undefined;
  /** How long the old groups may take to empty, and the topics to stand still (ms). */
  freezeTimeoutMs?: number | undefined;
  /** Makes the next generation in another region's cluster (a failback). */
  into?: MoveTarget | undefined;
  /** Each step as it happens, for the terminal. */
  log?: ((line: string) => void) | undefined;
}

const JOB_KEY = "job";

const HISTORY_ROLES = new Set([TopicRole.Events, TopicRole.Changelog]);
const INPUT_ROLES = new Set([
  TopicRole.Start,
  TopicRole.Replies,
  TopicRole.Control,
  TopicRole.Commands,
]);

export function repartitionJournalTopic(applicationId: string): string {
  return `${applicationId}.repartition`;
}

/** Runs (or finishes) the move of `applicationId` to `partitions`; returns the finished job. */
export async function repartition(options: RepartitionOptions): Promise<RepartitionJob> {
  const { kafka, applicationId: app, into } = options;
  const log = options.log ?? (() => undefined);
  // the cluster the next generation is made in, which journals the job
  const target = into?.kafka ?? kafka;
  const journal = await JobJournal.open(target, repartitionJournalTopic(app));
  // Fences any earlier run of this job still writing.
  const producer = journal.producer(repartitionJournalTopic(app));
  const admin = createAdmin(kafka);
  const targetAdmin = into === undefined ? admin : createAdmin(target);
  try {
    let job = journal.get(JOB_KEY) as RepartitionJob | undefined;
    if (job !== undefined && job.stage !== MoveStage.Done) {
      if (job.to.partitions !== options.partitions) {
        throw new UsageError(
          `a move of ${app} to ${job.to.partitions} partitions is under way (stage "${job.stage}"): run it again with --partitions ${job.to.partitions} to finish it`,
        );
      }
      log(`resuming the move to ${job.to.partitions} partitions at stage "${job.stage}"`);
    } else {
      job = await newJob(options);
      await save(job);
      log(
        `moving ${app} from generation ${job.from.generation} (${job.from.partitions} partitions) to generation ${job.to.generation} (${job.to.partitions})` +
          (into === undefined ? "" : ` in region ${into.region}`),
      );
    }
    const current: RepartitionJob = job;
    const step = stageRunner({
      stages: Object.values(MoveStage),
      job: current,
      save: () => save(current),
      log,
    });

    await step(MoveStage.Prepared, async () => {
      await prepareTopics(targetAdmin, current);
      return {};
    });
    await step(MoveStage.HistoryCopied, async () => {
      const ends = await endsOf(
        admin,
        history(current).map((t) => t.topic),
      );
      await copyHistory(current, ends);
      return {};
    });
    await step(MoveStage.Frozen, async () => {
      // the first freeze's time: a rerun freezes again, but sagas have been still since then
      if (current.frozenAt === undefined) {
        current.frozenAt = Date.now();
        await save(current);
      }
      await writeLayout(
        kafka,
        app,
        frozenLayout(current),
        `${repartitionJournalTopic(app)}.layout`,
      );
      log(`frozen: workers and participants of generation ${current.from.generation} stop`);
      const connectors = await stopRoutedConnectors(
        options.connect,
        current.topics.filter((t) => t.role === TopicRole.Start || t.role === TopicRole.Replies),
        current.from.generation,
        log,
      );
      const groups = frozenGroups(current);
      await waitForEmptyGroups(admin, groups, {
        timeoutMs: options.freezeTimeoutMs ?? 120_000,
        why: `the groups of generation ${current.from.generation} (${groups.join(", ")}) to empty: a worker or participant that does not follow the layout is still running`,
        log,
      });
      const ends = await stillEnds(kafka, admin, current, options.freezeTimeoutMs, log);
      return { connectors, ends };
    });
    await step(MoveStage.RestCopied, async () => {
      await copyHistory(current, frozenEnds(current));
      await copyTails(admin, current);
      return {};
    });
    await step(MoveStage.Switched, async () => {
      for (const route of current.connectors ?? []) {
        if (into === undefined) await reroute(options.connect, route);
        else await takeOver(options.connect, into, route);
      }
      const live: AppLayout = {
        generation: current.to.generation,
        partitions: current.to.partitions,
        state: LayoutState.Active,
        at: Date.now(),
        region: current.to.region ?? current.from.region,
      };
      // the old region's workers and participants stand by
      if (into !== undefined)
        await writeLayout(kafka, app, live, `${repartitionJournalTopic(app)}.layout`);
      current.stage = MoveStage.Switched;
      current.switchedAt = live.at;
      await transact(producer, journal, [layoutRecord(app, live)], { [JOB_KEY]: current });
      log(
        `generation ${live.generation} is live${into === undefined ? "" : ` in region ${into.region}`}: workers and participants start on it`,
      );
      return {};
    });
    await step(MoveStage.Done, async () => {
      for (const route of current.connectors ?? []) {
        await (into === undefined ? options.connect : into.connect)?.resume(route.name);
        log(`connector ${route.name} resumed, routing to ${route.to}`);
      }
      return {};
    });
    return current;
  } finally {
    await admin.close();
    if (targetAdmin !== admin) await targetAdmin.close();
    await producer.close();
  }

  async function save(job: RepartitionJob): Promise<void> {
    await transact(producer, journal, [], { [JOB_KEY]: job });
  }

  async function copyHistory(job: RepartitionJob, ends: Map<string, bigint[]>): Promise<void> {
    for (const t of history(job)) {
      const spans: CopySpan[] = (ends.get(t.topic) ?? []).map((to, partition) => ({
        topic: t.topic,
        partition,
        from: 0n,
        to,
      }));
      const copied = await copySpans({
        kafka,
        journal,
        producer,
        spans,
        target: {
          topic: t.newTopic,
          partitions: job.to.partitions,
          keyOf: t.role === TopicRole.Changelog ? sagaIdOfStoreKey : undefined,
        },
      });
      log(`copied ${copied.toLocaleString("en")} record(s) of ${t.topic} to ${t.newTopic}`);
    }
  }

  async function copyTails(a: KafkaAdmin, job: RepartitionJob): Promise<void> {
    const ends = frozenEnds(job);
    for (const t of job.topics.filter((topic) => INPUT_ROLES.has(topic.role))) {
      const committed =
        t.tailGroup === undefined
          ? new Map<number, bigint>()
          : await groupOffsets(a, t.tailGroup, t.topic);
      const spans: CopySpan[] = (ends.get(t.topic) ?? []).map((to, partition) => ({
        topic: t.topic,
        partition,
        from: committed.get(partition) ?? 0n,
        to,
      }));
      const copied = await copySpans({
        kafka,
        journal,
        producer,
        spans,
        target: { topic: t.newTopic, partitions: job.to.partitions },
      });
      log(`copied ${copied.toLocaleString("en")} unconsumed record(s) of ${t.topic}`);
    }
  }
}

function history(job: RepartitionJob): JobTopic[] {
  return job.topics.filter((t) => HISTORY_ROLES.has(t.role));
}

function frozenLayout(job: RepartitionJob): AppLayout {
  return {
    generation: job.from.generation,
    partitions: job.from.partitions,
    state: LayoutState.Frozen,
    next: job.to,
    at: Date.now(),
    region: job.from.region,
  };
}

function frozenEnds(job: RepartitionJob): Map<string, bigint[]> {
  return new Map(Object.entries(job.ends ?? {}).map(([t, ends]) => [t, ends.map(BigInt)]));
}

async function newJob(options: RepartitionOptions): Promise<RepartitionJob> {
  const plan = await planRepartition({
    kafka: options.kafka,
    applicationId: options.applicationId,
    partitions: options.partitions,
    startTopics: options.startTopics,
    countKeys: false,
    sameCountAllowed: options.into !== undefined,
  });
  return {
    applicationId: options.applicationId,
    from: plan.from,
    to: { ...plan.to, region: options.into?.region },
    topics: plan.topics
      .filter((t) => t.role !== TopicRole.DeadLetters)
      .map((t) => ({ topic: t.topic, role: t.role, newTopic: t.newTopic, tailGroup: t.tailGroup })),
    stage: MoveStage.Planned,
    startedAt: Date.now(),
  };
}

async function prepareTopics(admin: KafkaAdmin, job: RepartitionJob): Promise<void> {
  await ensureTopics(
    admin,
    job.topics.map((t) => ({
      topic: t.newTopic,
      partitions: job.to.partitions,
      ...(t.role === TopicRole.Events ? { configs: { "retention.ms": "-1" } } : {}),
      ...(t.role === TopicRole.Changelog ? { configs: { "cleanup.policy": "compact" } } : {}),
    })),
  );
}

async function endsOf(admin: KafkaAdmin, topics: string[]): Promise<Map<string, bigint[]>> {
  const ends = new Map<string, bigint[]>();
  for (const topic of topics) {
    ends.set(
      topic,
      (await topicOffsets(admin, topic)).map((p) => p.high),
    );
  }
  return ends;
}

/** The groups of the frozen generation: the workers', each participant's and its saga-ends'. */
function frozenGroups(job: RepartitionJob): string[] {
  const groups = new Set([generationId(job.applicationId, job.from.generation)]);
  for (const t of job.topics) {
    if (t.role === TopicRole.Commands && t.tailGroup !== undefined) {
      groups.add(t.tailGroup);
      groups.add(`${t.tailGroup}.saga-ends`);
    }
  }
  return [...groups];
}

/**
 * The old topics' ends once they stand still: every transaction on them decided (the last
 * stable offset is the high watermark) and nothing added for a second.
 */
async function stillEnds(
  kafka: KafkaSettings,
  admin: KafkaAdmin,
  job: RepartitionJob,
  timeoutMs = 120_000,
  log: (line: string) => void,
): Promise<Record<string, string[]>> {
  const topics = job.topics.map((t) => t.topic);
  const reader = createAdmin(kafka);
  let last = "";
  let open = "";
  try {
    const ends = await waitUntil(
      async () => {
        const high = await endsOf(admin, topics);
        const stable = await lastStable(reader, topics, high);
        const undecided = [...high].flatMap(([topic, partitions]) =>
          partitions.flatMap((h, p) => (stable.get(topic)?.[p] === h ? [] : [`${topic}/${p}`])),
        );
        const now = JSON.stringify([...high].map(([t, e]) => [t, e.map(String)]));
        if (undecided.length > 0 && undecided.join() !== open) {
          log(
            `waiting for open transactions on ${undecided.join(", ")} to end (a worker killed mid-commit is aborted after its transaction timeout)`,
          );
          open = undecided.join();
        }
        const still = undecided.length === 0 && now === last;
        last = now;
        return still ? high : undefined;
      },
      { timeoutMs, intervalMs: 1_000, description: "the old topics to stand still" },
    );
    return Object.fromEntries([...ends].map(([t, e]) => [t, e.map(String)]));
  } finally {
    await reader.close();
  }
}

async function lastStable(
  admin: KafkaAdmin,
  topics: string[],
  high: Map<string, bigint[]>,
): Promise<Map<string, bigint[]>> {
  const listed = await admin.listOffsets({
    isolationLevel: FetchIsolationLevels.READ_COMMITTED, // LATEST: the last stable offset
    topics: topics.map((name) => ({
      name,
      partitions: (high.get(name) ?? []).map((_, partitionIndex) => ({
        partitionIndex,
        timestamp: ListOffsetTimestamps.LATEST,
      })),
    })),
  });
  return new Map(listed.map((t) => [t.name, t.partitions.map((p) => p.offset)] as const));
}
