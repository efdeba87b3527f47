/**
 * `sagastream repartition --plan` (issue 15): what moving a live application to another
 * partition count would do, read from the cluster and changing nothing. The move makes a new
 * generation of every co-partitioned topic (saga/generations.ts); the plan takes the
 * application's topics in its current generation (app-topics.ts), and for each: its partitions now and its new name, its records and bytes, the consumer groups
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
  layoutTopic,
  LayoutState,
  sagaIdOfStoreKey,
  sagaTopics,
} from "../saga/index.js";
import { changelogTopic } from "../topology/index.js";
import { formatNumber } from "./capacity.js";
import {
  baseTopic,
  groupsReading,
  participantGroup,
  readAppTopics,
  TopicRole,
  type AppTopic,
} from "./app-topics.js";
import { countKeys, KeyCounter, type KeyCount, type KeyCountProgress } from "./key-skew.js";
import { assumptionsOf, estimateRepartition, repartitionStages } from "./repartition-plan-text.js";
import type { RepartitionEstimate, RepartitionStage } from "./repartition-plan-text.js";

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
  /** A move to the same count (into another region's cluster) is not refused. */
  sameCountAllowed?: boolean | undefined;
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
    const found = await readAppTopics(admin, kafka, app, options.startTopics);
    const { layout, generation, existing, committed } = found;
    warnings.push(...found.warnings);
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
    const next = generation + 1;
    const names = sagaTopics(app, generation);
    const workers = found.workersGroup;
    const nextWorkers = generationId(app, next);
    const workersCommitted = committed.get(workers);
    const nextName = (t: AppTopic): string => {
      const newNames = sagaTopics(app, next);
      switch (t.role) {
        case TopicRole.Events:
          return newNames.events;
        case TopicRole.Replies:
          return newNames.replies;
        case TopicRole.Control:
          return newNames.control;
        case TopicRole.Commands:
          return newNames.commands(t.participant ?? "");
        case TopicRole.Start:
          return generationTopic(baseTopic(t.topic, generation), next);
        case TopicRole.DeadLetters:
          return deadLetterTopic(nextWorkers);
        case TopicRole.Changelog:
          return changelogTopic(nextWorkers, t.store ?? "");
      }
    };

    const metadata = await admin.metadata({ topics: found.topics.map((t) => t.topic) });
    const counts = new Map(
      found.topics.map((t) => [t.topic, metadata.topics.get(t.topic)?.partitionsCount ?? 0]),
    );
    const current = counts.get(names.events) ?? 0;
    if (partitions === current && options.sameCountAllowed !== true) {
      throw new UsageError(
        `${names.events} has ${current} partitions already: nothing to move (give another --partitions)`,
      );
    }
    const [offsets, bytes] = await Promise.all([
      Promise.all(
        found.topics.map(async (t) => [t.topic, await topicOffsets(admin, t.topic)] as const),
      ),
      topicBytes(admin, counts),
    ]).then(([listed, sizes]) => [new Map(listed), sizes] as const);

    const topics: PlannedTopic[] = [];
    for (const t of found.topics) {
      const spans = offsets.get(t.topic) ?? [];
      const count = counts.get(t.topic) ?? 0;
      const records = Number(spans.reduce((sum, p) => sum + (p.high - p.low), 0n));
      const groups = groupsReading(committed, t.topic);
      const planned: PlannedTopic = {
        ...t,
        newTopic: nextName(t),
        newPartitions: partitions,
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
      if (existing.has(planned.newTopic)) {
        warnings.push(
          `${planned.newTopic} exists already (left by an earlier attempt?): stage 1 will find it there`,
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
