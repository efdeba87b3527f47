/**
 * `sagastream repartition --plan` (issue 15): what moving a live application to another
 * partition count would do, read from the cluster and changing nothing. The move makes a new
 * generation of every co-partitioned topic (saga/generations.ts); the plan finds the
 * application's topics in its current generation (the layout record, else generation 0), and
 * for each: its partitions now and its new name, its records and bytes, the consumer groups
 * reading it, and what the move copies of it. The topics copied in full (saga-events, and the
 * changelogs' latest values) have their keys counted (key-skew.ts); the stages, the estimates
 * and the plan's text are in repartition-plan-text.ts.
 */
import { UsageError } from "../errors/index.js";
import {
  deadLetterTopic,
  topicOffsets,
  withAdmin,
  type KafkaAdmin,
  type KafkaSettings,
  type PartitionOffsets,
} from "../kafka/index.js";
import {
  generationId,
  generationTopic,
  LayoutLog,
  layoutTopic,
  LayoutState,
  SAGA_STORES,
  sagaIdOfStoreKey,
  sagaTopics,
  type AppLayout,
} from "../saga/index.js";
import { changelogTopic } from "../topology/index.js";
import { formatNumber } from "./capacity.js";
import { countKeys, KeyCounter, type KeyCount, type KeyCountProgress } from "./key-skew.js";
import { assumptionsOf, estimateRepartition, repartitionStages } from "./repartition-plan-text.js";
import type { RepartitionEstimate, RepartitionStage } from "./repartition-plan-text.js";

/** What a topic is to the application. */
export enum TopicRole {
  Start = "start",
  Events = "saga-events",
  Replies = "replies",
  Control = "control",
  Commands = "commands",
  DeadLetters = "dead letters",
  Changelog = "changelog",
}

/** How a topic's records reach the new generation. */
export enum CopyKind {
  /** Every record, by key, in order (saga-events): stage 2 up to the ends then, stage 4 the rest. */
  History = "history",
  /** The latest value of each key, placed by saga id (changelogs): stages 2 and 4. */
  LatestValues = "latest values",
  /** The records its readers have not consumed at the freeze (inputs): stage 4. */
  Unconsumed = "unconsumed",
  /** Nothing: the records stay in the old topic (dead letters, to inspect and re-drive). */
  None = "none",
}

export interface PlannedTopic {
  topic: string;
  role: TopicRole;
  /** Commands: whose. */
  participant?: string | undefined;
  /** Changelogs: of which store. */
  store?: string | undefined;
  partitions: number;
  /** Its name in the new generation. */
  newTopic: string;
  newPartitions: number;
  /** Σ (high − low) over its partitions (transaction markers and compacted gaps count too). */
  records: number;
  /** On disk, one replica (DescribeLogDirs); undefined when the brokers did not say. */
  bytes?: number | undefined;
  /** Consumer groups with committed offsets on it. */
  groups: string[];
  copy: CopyKind;
  /** Inputs: the group whose committed offsets start the unconsumed tail. */
  tailGroup?: string | undefined;
  /** Inputs: records after `tailGroup`'s committed offsets (all, where it committed none). */
  unconsumed?: number | undefined;
  /** Saga-events and changelogs: what a read to the end found. */
  keys?: KeyCount | undefined;
  /** Records the move copies of it: history all read, latest values its live keys, inputs their tail. */
  toCopy: number;
}

export interface RepartitionPlan {
  applicationId: string;
  /** The live generation: from the layout record, or 0 without one. */
  from: {
    generation: number;
    partitions: number;
    layoutRecord: boolean;
    /** The region the layout names (kept across the move). */
    region?: string | undefined;
  };
  to: { generation: number; partitions: number };
  /** The workers' consumer group now and in the new generation. */
  workersGroup: { now: string; next: string };
  topics: PlannedTopic[];
  stages: RepartitionStage[];
  /** Estimates, not measurements. */
  estimate: RepartitionEstimate;
  assumptions: string[];
  /** Things found that the move will meet (topics left by an earlier attempt, …). */
  warnings: string[];
  /** When the plan was read (ms). */
  at: number;
}

export interface RepartitionPlanOptions {
  kafka: KafkaSettings;
  applicationId: string;
  /** The new partition count. */
  partitions: number;
  /** Start topics the workers read that their group may never have committed on. */
  startTopics?: readonly string[] | undefined;
  /** The copy's rate, records/s (default REPARTITION_DEFAULTS.copyRecordsPerSecond). */
  copyRecordsPerSecond?: number | undefined;
  /** Stopping groups and reconfiguring connectors, ms (default REPARTITION_DEFAULTS). */
  switchOverheadMs?: number | undefined;
  /** Read the copied topics to count keys and their skew (default true; the move itself skips it). */
  countKeys?: boolean | undefined;
  /** While keys are counted: every PROGRESS_EVERY records (key-skew.ts) and at each topic's end. */
  onProgress?: ((progress: KeyCountProgress) => void) | undefined;
}

export const REPARTITION_DEFAULTS = {
  /** A placeholder until a copy is measured. */
  copyRecordsPerSecond: 50_000,
  switchOverheadMs: 10_000,
} as const;

/** Groups per OffsetFetch request. */
const GROUPS_PER_REQUEST = 100;

/** A topic's name without the generation's suffix (a start topic's name as its service gave it). */
export function baseTopic(topic: string, generation: number): string {
  const suffix = `.g${generation}`;
  return generation > 0 && topic.endsWith(suffix) ? topic.slice(0, -suffix.length) : topic;
}

/** A participant's consumer group in a generation. */
export function participantGroup(
  applicationId: string,
  generation: number,
  participant: string,
): string {
  return `${generationId(applicationId, generation)}.participant.${participant}`;
}

/** The participant whose commands topic (of `generation`) `topic` is, if it is one. */
export function commandsParticipant(
  applicationId: string,
  generation: number,
  topic: string,
): string | undefined {
  const prefix = `${applicationId}.commands.`;
  if (!topic.startsWith(prefix)) return undefined;
  const rest = topic.slice(prefix.length);
  if (generation === 0) {
    // another generation's commands topic, not a participant named "….g1"
    return /\.g\d+$/.test(rest) || rest === "" ? undefined : rest;
  }
  const suffix = `.g${generation}`;
  if (!rest.endsWith(suffix) || rest.length === suffix.length) return undefined;
  return rest.slice(0, -suffix.length);
}

/** Committed offsets of every consumer group: group → topic → partition → offset. */
type CommittedOffsets = Map<string, Map<string, Map<number, bigint>>>;

async function committedOffsets(admin: KafkaAdmin): Promise<CommittedOffsets> {
  const groups = [...(await admin.listGroups()).keys()];
  const committed: CommittedOffsets = new Map();
  for (let i = 0; i < groups.length; i += GROUPS_PER_REQUEST) {
    const listed = await admin.listConsumerGroupOffsets({
      groups: groups.slice(i, i + GROUPS_PER_REQUEST),
    });
    for (const group of listed) {
      const topics = new Map<string, Map<number, bigint>>();
      for (const topic of group.topics) {
        const partitions = new Map<number, bigint>();
        for (const p of topic.partitions) {
          if (p.committedOffset >= 0n) partitions.set(p.partitionIndex, p.committedOffset);
        }
        if (partitions.size > 0) topics.set(topic.name, partitions);
      }
      if (topics.size > 0) committed.set(group.groupId, topics);
    }
  }
  return committed;
}

/** One replica's bytes per topic, or an empty map when the brokers do not say. */
async function topicBytes(
  admin: KafkaAdmin,
  counts: ReadonlyMap<string, number>,
): Promise<Map<string, number>> {
  const bytes = new Map<string, number>();
  try {
    const described = await admin.describeLogDirs({
      topics: [...counts].map(([name, count]) => ({ name, partitions: [...Array(count).keys()] })),
    });
    const largest = new Map<string, bigint>(); // topic/partition → its largest replica
    for (const broker of described) {
      for (const dir of broker.results) {
        for (const topic of dir.topics) {
          for (const p of topic.partitions) {
            if (p.isFutureKey) continue;
            const at = `${topic.name}/${p.partitionIndex}`;
            const size = largest.get(at);
            if (size === undefined || p.partitionSize > size) largest.set(at, p.partitionSize);
          }
        }
      }
    }
    for (const [at, size] of largest) {
      const topic = at.slice(0, at.lastIndexOf("/"));
      bytes.set(topic, (bytes.get(topic) ?? 0) + Number(size));
    }
    return bytes;
  } catch {
    return new Map(); // not authorized, or an old broker: the plan goes without bytes
  }
}

/** The application's layout record, if it has one. */
async function readLayout(
  kafka: KafkaSettings,
  applicationId: string,
): Promise<AppLayout | undefined> {
  const log = new LayoutLog(kafka, applicationId);
  try {
    return await log.read();
  } finally {
    await log.close();
  }
}

/** Records after a group's committed offsets (a partition it never committed: all of it). */
function unconsumed(offsets: readonly PartitionOffsets[], committed?: Map<number, bigint>): number {
  let records = 0n;
  for (const { partition, low, high } of offsets) {
    const at = committed?.get(partition);
    const from = at === undefined ? low : at < low ? low : at > high ? high : at;
    records += high - from;
  }
  return Number(records);
}

function checkCount(flag: string, value: number, takes: string, ok: (n: number) => boolean): void {
  if (!Number.isFinite(value) || !ok(value)) {
    throw new UsageError(`${flag} takes ${takes} (got ${String(value)})`);
  }
}

/** Reads what a move of the application to `partitions` would take; changes nothing. */
export async function planRepartition(options: RepartitionPlanOptions): Promise<RepartitionPlan> {
  const { kafka, applicationId: app, partitions } = options;
  const rate = options.copyRecordsPerSecond ?? REPARTITION_DEFAULTS.copyRecordsPerSecond;
  const overheadMs = options.switchOverheadMs ?? REPARTITION_DEFAULTS.switchOverheadMs;
  checkCount("--partitions", partitions, "a whole number of partitions, 1 or more", (n) => {
    return Number.isInteger(n) && n >= 1;
  });
  checkCount("--copy-rate", rate, "a positive number of records per second", (n) => n > 0);
  const at = Date.now();
  const warnings: string[] = [];

  return withAdmin(kafka, async (admin) => {
    const existing = new Set(await admin.listTopics());
    const layout = existing.has(layoutTopic(app)) ? await readLayout(kafka, app) : undefined;
    if (layout?.state === LayoutState.Frozen) {
      const next =
        layout.next === undefined
          ? "the next generation"
          : `generation ${layout.next.generation} (${layout.next.partitions} partitions)`;
      throw new UsageError(
        `a repartition of "${app}" is under way: its layout (${layoutTopic(app)}) says generation ${layout.generation} is frozen for a move to ${next}` +
          (layout.at > 0 ? ` since ${new Date(layout.at).toISOString()}` : "") +
          ": finish that move (or roll it back) before planning another",
      );
    }
    const generation = layout?.generation ?? 0;
    const next = generation + 1;
    const names = sagaTopics(app, generation);
    const newNames = sagaTopics(app, next);
    if (!existing.has(names.events)) {
      throw new UsageError(
        `no topic ${names.events} on the cluster: is "${app}" the application's id?` +
          (layout === undefined ? "" : ` (its layout names generation ${generation} live)`),
      );
    }
    const workers = generationId(app, generation);
    const nextWorkers = generationId(app, next);
    const committed = await committedOffsets(admin);
    const workersCommitted = committed.get(workers);

    // The application's topics in this generation, in the order the plan lists them.
    const found: Omit<PlannedTopic, "partitions" | "records" | "groups" | "toCopy" | "copy">[] = [];
    const add = (
      topic: string,
      role: TopicRole,
      newTopic: string,
      extra: { participant?: string; store?: string } = {},
    ) => {
      if (found.some((t) => t.topic === topic)) return;
      found.push({ topic, role, newTopic, newPartitions: partitions, ...extra });
    };
    add(names.events, TopicRole.Events, newNames.events);
    for (const [topic, role, newTopic] of [
      [names.replies, TopicRole.Replies, newNames.replies],
      [names.control, TopicRole.Control, newNames.control],
    ] as const) {
      if (existing.has(topic)) add(topic, role, newTopic);
      else warnings.push(`no topic ${topic}: the workers create it when they start`);
    }
    for (const topic of [...existing].sort()) {
      const participant = commandsParticipant(app, generation, topic);
      if (participant !== undefined) {
        add(topic, TopicRole.Commands, newNames.commands(participant), { participant });
      }
    }
    const dlq = deadLetterTopic(workers);
    const changelogs = Object.values(SAGA_STORES).map((store) => ({
      store,
      topic: changelogTopic(workers, store),
      newTopic: changelogTopic(nextWorkers, store),
    }));
    const known = new Set([...found.map((t) => t.topic), dlq, ...changelogs.map((c) => c.topic)]);
    const named = options.startTopics ?? [];
    const missing = named.filter((topic) => !existing.has(topic));
    if (missing.length > 0) {
      throw new UsageError(`no start topic ${missing.join(", ")} on the cluster`);
    }
    const starts = new Set(named);
    for (const topic of workersCommitted?.keys() ?? []) {
      if (known.has(topic) || starts.has(topic)) continue;
      if (existing.has(topic)) starts.add(topic);
      else warnings.push(`group ${workers} has offsets on ${topic}, which no longer exists`);
    }
    for (const topic of [...starts].sort()) {
      add(topic, TopicRole.Start, generationTopic(baseTopic(topic, generation), next));
    }
    if (workersCommitted === undefined) {
      warnings.push(
        `the workers' group ${workers} has committed no offsets: its inputs' tails count whole, and start topics cannot be found (name them with --topic)`,
      );
    } else if (starts.size === 0) {
      warnings.push(
        `no start topic found: group ${workers} has committed offsets only on ${names.replies} and ${names.control} (name start topics with --topic)`,
      );
    }
    if (existing.has(dlq)) add(dlq, TopicRole.DeadLetters, deadLetterTopic(nextWorkers));
    for (const { store, topic, newTopic } of changelogs) {
      if (existing.has(topic)) add(topic, TopicRole.Changelog, newTopic, { store });
      else warnings.push(`no changelog ${topic} (store "${store}"): nothing of it to copy`);
    }

    const metadata = await admin.metadata({ topics: found.map((t) => t.topic) });
    const counts = new Map(
      found.map((t) => [t.topic, metadata.topics.get(t.topic)?.partitionsCount ?? 0]),
    );
    const current = counts.get(names.events) ?? 0;
    if (partitions === current) {
      throw new UsageError(
        `${names.events} has ${current} partitions already: nothing to move (give another --partitions)`,
      );
    }
    const [offsets, bytes] = await Promise.all([
      Promise.all(found.map(async (t) => [t.topic, await topicOffsets(admin, t.topic)] as const)),
      topicBytes(admin, counts),
    ]).then(([listed, sizes]) => [new Map(listed), sizes] as const);

    const topics: PlannedTopic[] = [];
    for (const t of found) {
      const spans = offsets.get(t.topic) ?? [];
      const count = counts.get(t.topic) ?? 0;
      const records = Number(spans.reduce((sum, p) => sum + (p.high - p.low), 0n));
      const groups = [...committed]
        .filter(([, byTopic]) => byTopic.has(t.topic))
        .map(([group]) => group)
        .sort();
      const planned: PlannedTopic = {
        ...t,
        partitions: count,
        records,
        bytes: bytes.get(t.topic),
        groups,
        copy: CopyKind.None,
        toCopy: 0,
      };
      if (
        (t.role === TopicRole.Events || t.role === TopicRole.Changelog) &&
        options.countKeys === false
      ) {
        planned.copy = t.role === TopicRole.Changelog ? CopyKind.LatestValues : CopyKind.History;
        planned.toCopy = records;
      } else if (t.role === TopicRole.Events || t.role === TopicRole.Changelog) {
        const latestOnly = t.role === TopicRole.Changelog;
        const counter = new KeyCounter(partitions, {
          latestOnly,
          placeBy: latestOnly ? sagaIdOfStoreKey : (key) => key,
        });
        planned.keys = await countKeys(kafka, t.topic, records, counter, options.onProgress);
        planned.copy = latestOnly ? CopyKind.LatestValues : CopyKind.History;
        planned.toCopy = latestOnly ? planned.keys.keys : planned.keys.recordsRead;
        if (planned.keys.unkeyed > 0) {
          warnings.push(
            `${t.topic} has ${formatNumber(planned.keys.unkeyed)} record(s) without a key: no partition to place them by`,
          );
        }
      } else if (t.role !== TopicRole.DeadLetters) {
        const group =
          t.role === TopicRole.Commands && t.participant !== undefined
            ? participantGroup(app, generation, t.participant)
            : workers;
        const groupOffsets = committed.get(group)?.get(t.topic);
        // (the workers' group committing nothing at all is said once, above)
        const said = group === workers && workersCommitted === undefined;
        if (groupOffsets === undefined && records > 0 && !said) {
          warnings.push(
            `group ${group} has committed nothing on ${t.topic}: all ${formatNumber(records)} of its records count as unconsumed`,
          );
        }
        planned.copy = CopyKind.Unconsumed;
        planned.tailGroup = group;
        planned.unconsumed = unconsumed(spans, groupOffsets);
        planned.toCopy = planned.unconsumed;
      }
      if (t.role !== TopicRole.DeadLetters && count !== current) {
        warnings.push(
          `${t.topic} has ${count} partitions, ${names.events} ${current}: they are not co-partitioned now`,
        );
      }
      if (existing.has(t.newTopic)) {
        warnings.push(
          `${t.newTopic} exists already (left by an earlier attempt?): stage 1 will find it there`,
        );
      }
      topics.push(planned);
    }

    const from = { generation, partitions: current };
    const to = { generation: next, partitions };
    const estimate = estimateRepartition(topics, rate, overheadMs);
    return {
      applicationId: app,
      from: { ...from, layoutRecord: layout !== undefined, region: layout?.region },
      to,
      workersGroup: { now: workers, next: nextWorkers },
      topics,
      stages: repartitionStages({ applicationId: app, from, to, topics }),
      estimate,
      assumptions: assumptionsOf(options, estimate, layout !== undefined, bytes.size > 0),
      warnings,
      at,
    };
  });
}
