/**
 * `sagastream repartition --plan` (issue 15): what moving a live application to another
 * partition count would do, read from the cluster and changing nothing. The move makes a new
 * generation of every co-partitioned topic (saga/generations.ts); the plan finds the
 * application's topics in its current generation (the layout record, else generation 0), and
 * for each: its partitions now and its new name, its records and bytes, the consumer groups
 * reading it, and what the move copies of it. The topics copied in full (saga-events, and the
 * changelogs' latest values) are read to the end with the no-group RangeReader, counting their
 * distinct keys and how evenly those spread over the new partitions under the Java client's
 * partitioner. With the records to copy and a copy rate it estimates the move's duration and
 * how long the application is unavailable, and spells out the stages with this application's
 * topic names.
 */
import { UsageError } from "../errors/index.js";
import {
  deadLetterTopic,
  partitionForKey,
  topicOffsets,
  withAdmin,
  type KafkaAdmin,
  type KafkaSettings,
  type PartitionOffsets,
} from "../kafka/index.js";
import {
  decodeLayout,
  generationId,
  generationTopic,
  LAYOUT_KEY,
  layoutTopic,
  LayoutState,
  SAGA_STORES,
  sagaIdOfStoreKey,
  sagaTopics,
  type AppLayout,
} from "../saga/index.js";
import { changelogTopic } from "../topology/index.js";
import { formatTable } from "../util/index.js";
import { formatNumber, humanBytes } from "./capacity.js";
import { RangeReader } from "./range-reader.js";

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

/** How evenly keys spread over the new partitions. */
export interface KeySkew {
  /** Keys per new partition, by partition. */
  perPartition: number[];
  min: number;
  max: number;
  mean: number;
  /** max / mean: 1 is perfectly even (0 without keys). */
  maxOverMean: number;
}

export interface KeyCount {
  /** Records read (committed, up to the ends when the count began). */
  recordsRead: number;
  /** Distinct keys; of a changelog, those whose latest value is not a tombstone. */
  keys: number;
  /** Of a changelog: keys whose latest value is a tombstone (deleted: not copied). */
  deletedKeys: number;
  /** Records without a key: no partition to place them by. */
  unkeyed: number;
  /** The keys per new partition (a changelog's placed by their saga id). */
  skew: KeySkew;
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

export interface RepartitionStage {
  name: string;
  text: string;
}

export interface RepartitionEstimate {
  copyRecordsPerSecond: number;
  switchOverheadMs: number;
  /** Records the move copies: saga-events' history, changelogs' latest values, inputs' tails. */
  recordsToCopy: number;
  /** Of which the inputs' unconsumed tails (copied while frozen). */
  tailRecords: number;
  /** recordsToCopy / rate. */
  copyMs: number;
  /** The whole move: copyMs + the overhead. */
  totalMs: number;
  /** Freeze → switch: tailRecords / rate + the overhead. */
  unavailableMs: number;
}

export interface RepartitionPlan {
  applicationId: string;
  /** The live generation: from the layout record, or 0 without one. */
  from: { generation: number; partitions: number; layoutRecord: boolean };
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

export interface KeyCountProgress {
  topic: string;
  read: number;
  /** Σ (high − low): about the records to read. */
  total: number;
  done: boolean;
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
  /** While keys are counted: every PROGRESS_EVERY records, and at each topic's end. */
  onProgress?: ((progress: KeyCountProgress) => void) | undefined;
}

export const REPARTITION_DEFAULTS = {
  /** A placeholder until a copy is measured. */
  copyRecordsPerSecond: 50_000,
  switchOverheadMs: 10_000,
} as const;

const PROGRESS_EVERY = 25_000;
/** Groups per OffsetFetch request. */
const GROUPS_PER_REQUEST = 100;

/** Min, max, mean and max/mean of the keys per partition. */
export function keySkew(perPartition: readonly number[]): KeySkew {
  const total = perPartition.reduce((sum, n) => sum + n, 0);
  const mean = perPartition.length === 0 ? 0 : total / perPartition.length;
  const min = perPartition.length === 0 ? 0 : Math.min(...perPartition);
  const max = perPartition.length === 0 ? 0 : Math.max(...perPartition);
  return {
    perPartition: [...perPartition],
    min,
    max,
    mean,
    maxOverMean: mean > 0 ? max / mean : 0,
  };
}

/**
 * Counts a topic's distinct keys and places each among `partitions` by `placeBy` (the key
 * itself, or a changelog key's saga id). `latestOnly`: a key counts only while its latest value
 * is not a tombstone (a changelog's copy takes the latest value per key). Every key is held in
 * memory once, as a string of its bytes.
 */
export class KeyCounter {
  /** Key (its bytes as latin1) → whether its latest value is not a tombstone. */
  private readonly seen = new Map<string, boolean>();
  private records = 0;
  private unkeyed = 0;

  constructor(
    private readonly partitions: number,
    private readonly options: { latestOnly: boolean; placeBy: (key: Buffer) => Buffer },
  ) {}

  add(key: Buffer | null, value: Buffer | null): void {
    this.records += 1;
    if (key === null) {
      this.unkeyed += 1;
      return;
    }
    this.seen.set(key.toString("latin1"), !this.options.latestOnly || value !== null);
  }

  get read(): number {
    return this.records;
  }

  result(): KeyCount {
    const perPartition = Array.from({ length: this.partitions }, () => 0);
    let keys = 0;
    for (const [key, live] of this.seen) {
      if (!live) continue;
      keys += 1;
      const placed = this.options.placeBy(Buffer.from(key, "latin1"));
      const partition = partitionForKey(placed, this.partitions);
      perPartition[partition] = (perPartition[partition] ?? 0) + 1;
    }
    return {
      recordsRead: this.records,
      keys,
      deletedKeys: this.seen.size - keys,
      unkeyed: this.unkeyed,
      skew: keySkew(perPartition),
    };
  }
}

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

type StageTopic = Pick<
  PlannedTopic,
  "topic" | "newTopic" | "role" | "participant" | "store" | "copy" | "tailGroup"
> & { groups?: readonly string[] | undefined };

export interface StagesInput {
  applicationId: string;
  from: { generation: number; partitions: number };
  to: { generation: number; partitions: number };
  topics: readonly StageTopic[];
}

/** The stages of the move, in order, with this application's topic and group names. */
export function repartitionStages(input: StagesInput): RepartitionStage[] {
  const { applicationId: app, from, to, topics } = input;
  const moves = (list: readonly StageTopic[]) =>
    list.map((t) => `${t.topic} → ${t.newTopic}`).join(", ");
  const names = (list: readonly StageTopic[]) => list.map((t) => t.topic).join(", ");
  const of = (role: TopicRole) => topics.filter((t) => t.role === role);
  const events = of(TopicRole.Events);
  const changelogs = of(TopicRole.Changelog);
  const starts = of(TopicRole.Start);
  const replies = of(TopicRole.Replies);
  const commands = of(TopicRole.Commands);
  const inputs = topics.filter((t) => t.copy === CopyKind.Unconsumed);
  const workers = generationId(app, from.generation);
  const nextWorkers = generationId(app, to.generation);
  const participants = commands.map((t) => t.participant ?? "?");
  const groupsOf = (generation: number) =>
    participants.map((p) => participantGroup(app, generation, p)).join(", ");
  const connected = [...starts, ...replies];
  const history = [...events, ...changelogs];
  // the inputs by the group whose committed offsets start their tails
  const byGroup = new Map<string, string[]>();
  for (const t of inputs) {
    const group = t.tailGroup ?? workers;
    byGroup.set(group, [...(byGroup.get(group) ?? []), t.topic]);
  }
  const tails = [...byGroup].map(
    ([group, list]) => `of ${list.join(", ")} from group ${group}'s committed offsets`,
  );
  // the workers' group, and the participants' (with their own, e.g. `….saga-ends`)
  const participantGroups = participants.map((p) => participantGroup(app, from.generation, p));
  const ours = (group: string) =>
    group === workers || participantGroups.some((p) => group === p || group.startsWith(`${p}.`));
  const others = topics.flatMap((t) =>
    (t.groups ?? []).filter((g) => !ours(g)).map((g) => `${g} on ${t.topic}`),
  );
  const layout = (generation: number, partitions: number, state: LayoutState, extra = "") =>
    `${layoutTopic(app)} ← {generation ${generation}, ${partitions} partitions, ${state}${extra}}`;
  return [
    {
      name: "prepare",
      text:
        `create generation ${to.generation}'s topics with ${to.partitions} partitions (generation ${from.generation} has ${from.partitions}), ` +
        `each with its old topic's configs: ${moves(topics)}.`,
    },
    {
      name: "copy history online",
      text:
        `while the workers keep running, copy up to the topics' current ends: ${moves(events)} ` +
        `(every record, by key, each key's records in order, timestamps and headers kept); ` +
        (changelogs.length === 0
          ? "no changelog to copy."
          : `the latest value of each key of ${moves(changelogs)}, placed by the saga id (the key up to its first "\\u0000").`),
    },
    {
      name: "freeze",
      text:
        `${layout(from.generation, from.partitions, LayoutState.Frozen, `, next generation ${to.generation} of ${to.partitions}`)}: ` +
        `the workers (group ${workers})` +
        (participants.length === 0 ? "" : ` and the participants (${groupsOf(from.generation)})`) +
        ` stop and leave their groups; ` +
        (connected.length === 0
          ? ""
          : `pause the Debezium connectors writing ${names(connected)}; `) +
        `wait until the old groups are empty and the ends of the topics stand still. ` +
        `From here until the switch no saga advances; services keep writing their outbox tables.`,
    },
    {
      name: "copy the rest",
      text:
        `copy what ${names(history)} got since stage 2 (as there), and the records not yet consumed ` +
        (tails.length === 0 ? "of no input" : tails.join("; ")) +
        ".",
    },
    {
      name: "switch",
      text:
        (connected.length === 0
          ? ""
          : `route the connectors to the new names (${moves(connected)}); `) +
        `${layout(to.generation, to.partitions, LayoutState.Active)}; ` +
        (connected.length === 0 ? "" : "resume the connectors; ") +
        `the workers (group ${nextWorkers})` +
        (participants.length === 0 ? "" : ` and the participants (${groupsOf(to.generation)})`) +
        ` start on generation ${to.generation}` +
        (changelogs.length === 0
          ? "."
          : ` and restore their stores from ${changelogs.map((t) => t.newTopic).join(", ")}.`) +
        (others.length === 0
          ? ""
          : ` Other readers' offsets do not carry over to the new topics (${others.join(", ")}): move them to the new names too.`),
    },
    {
      name: "verify (--verify)",
      text:
        `compare per key the record counts and checksums of ${moves(history)}, ` +
        `and the state of every saga in generation ${from.generation} and ${to.generation}.`,
    },
  ];
}

/** Duration and unavailability from the records to copy and a rate: estimates. */
export function estimateRepartition(
  topics: readonly Pick<PlannedTopic, "copy" | "toCopy">[],
  copyRecordsPerSecond: number,
  switchOverheadMs: number,
): RepartitionEstimate {
  const recordsToCopy = topics.reduce((sum, t) => sum + t.toCopy, 0);
  const tailRecords = topics
    .filter((t) => t.copy === CopyKind.Unconsumed)
    .reduce((sum, t) => sum + t.toCopy, 0);
  const copyMs = (recordsToCopy / copyRecordsPerSecond) * 1000;
  return {
    copyRecordsPerSecond,
    switchOverheadMs,
    recordsToCopy,
    tailRecords,
    copyMs,
    totalMs: copyMs + switchOverheadMs,
    unavailableMs: (tailRecords / copyRecordsPerSecond) * 1000 + switchOverheadMs,
  };
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
  const reader = new RangeReader(kafka, {
    topic: layoutTopic(applicationId),
    from: { kind: "earliest" },
    to: { kind: "latest" },
  });
  try {
    let layout: AppLayout | undefined;
    for await (const { record } of reader.read(await reader.spans())) {
      if (record.key?.toString("utf8") !== LAYOUT_KEY) continue;
      layout = record.value === null ? undefined : decodeLayout(record.value);
    }
    return layout;
  } finally {
    await reader.close();
  }
}

async function countKeys(
  kafka: KafkaSettings,
  topic: string,
  total: number,
  counter: KeyCounter,
  onProgress: RepartitionPlanOptions["onProgress"],
): Promise<KeyCount> {
  const reader = new RangeReader(kafka, {
    topic,
    from: { kind: "earliest" },
    to: { kind: "latest" },
  });
  try {
    for await (const { record } of reader.read(await reader.spans())) {
      counter.add(record.key, record.value);
      if (counter.read % PROGRESS_EVERY === 0) {
        onProgress?.({ topic, read: counter.read, total, done: false });
      }
    }
  } finally {
    await reader.close();
  }
  onProgress?.({ topic, read: counter.read, total, done: true });
  return counter.result();
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
      from: { ...from, layoutRecord: layout !== undefined },
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

function assumptionsOf(
  options: RepartitionPlanOptions,
  estimate: RepartitionEstimate,
  layoutRecord: boolean,
  bytesKnown: boolean,
): string[] {
  const n = formatNumber;
  const app = options.applicationId;
  return [
    `Copy rate: ${n(estimate.copyRecordsPerSecond)} records/s (${options.copyRecordsPerSecond === undefined ? "default, a placeholder until a copy is measured; --copy-rate" : "given with --copy-rate"}); every duration here scales with it.`,
    `Duration = records to copy / rate + ${n(estimate.switchOverheadMs / 1000)} s: all of saga-events, the changelogs' latest values (a key whose latest value is a tombstone is not copied) and the inputs' unconsumed tails as they are now.`,
    `Unavailability (freeze → switch) = the inputs' unconsumed tails / rate + ${n(estimate.switchOverheadMs / 1000)} s for stopping the groups, waiting for them to empty and reconfiguring the connectors. ` +
      `Left out: what saga-events and the changelogs get while stage 2 runs (copied in stage 4, it depends on the traffic) and the workers' restore of the new changelogs at the switch.`,
    `Records per topic = Σ (high − low offsets): transaction markers and compacted-away offsets count too, so it is an upper bound for transactional and compacted topics; the copy counts of saga-events and the changelogs are the records actually read (committed, up to the ends when the read began).`,
    `Keys: each distinct key of saga-events and the changelogs is held in memory while its topic is read (about 100 bytes a key: 100,000 sagas ≈ 10 MB); hundreds of millions of keys would need another way to count.`,
    `Placement: the Java client's default partitioner (murmur2 of the key bytes, sign bit masked, modulo the new count); a changelog record goes where its saga id does (the store key up to the first "\\u0000").`,
    `Generation: ${layoutRecord ? `read from ${layoutTopic(app)}` : `${layoutTopic(app)} has no layout record, so generation 0 (the names without a suffix)`}; the new generation's topics are named with ".g<n>", its groups, changelogs and dead letters by "${generationId(app, 1)}"-style ids (saga/generations.ts).`,
    `Start topics: the topics the workers' group has committed offsets on besides replies and control${options.startTopics === undefined || options.startTopics.length === 0 ? "" : `, and those given with --topic`}; one it never committed on is not found.`,
    `Groups reading a topic: every consumer group with a committed offset on it.`,
    bytesKnown
      ? `Bytes: one replica's size on disk, from the brokers' DescribeLogDirs.`
      : `Bytes: the brokers did not report log sizes (DescribeLogDirs refused), so they are left out.`,
    `Dead letters are not copied: they stay in the old topic to inspect and re-drive.`,
  ];
}

/** A duration: ms under a second, else seconds to one decimal. */
function seconds(ms: number): string {
  return ms < 1000
    ? `${Math.round(ms)} ms`
    : `${(ms / 1000).toLocaleString("en", { maximumFractionDigits: 1 })} s`;
}

/** The plan as the command prints it: the topics, the stages, the estimates, the assumptions. */
export function formatRepartitionPlan(plan: RepartitionPlan): string {
  const n = formatNumber;
  const rows = plan.topics.map((t) => [
    t.topic,
    t.role,
    `${t.partitions} → ${t.newPartitions}`,
    n(t.records),
    t.bytes === undefined ? "-" : humanBytes(t.bytes),
    t.keys === undefined ? "-" : n(t.keys.keys),
    t.keys === undefined || t.keys.keys === 0 ? "-" : t.keys.skew.maxOverMean.toFixed(2),
    copyCell(t),
    t.groups.length === 0 ? "-" : t.groups.join(", "),
    t.newTopic,
  ]);
  const table = formatTable(
    [
      "topic",
      "role",
      "partitions",
      "records",
      "bytes",
      "keys",
      "skew max/mean",
      "copy",
      "groups reading it",
      "new name",
    ],
    rows,
  ).replace(/ +$/gm, "");
  const skews = plan.topics.flatMap(({ topic, keys }) => {
    if (keys === undefined || keys.keys === 0) return [];
    const s = keys.skew;
    return [
      `- ${topic}: keys per new partition min ${n(s.min)}, max ${n(s.max)}, mean ${n(s.mean)}, max/mean ${s.maxOverMean.toFixed(2)}`,
    ];
  });
  const e = plan.estimate;
  const lines = [
    `repartition ${plan.applicationId}: generation ${plan.from.generation} (${plan.from.partitions} partitions) → generation ${plan.to.generation} (${plan.to.partitions} partitions); a plan: nothing was changed`,
    "",
    table,
    "",
    ...(skews.length === 0 ? [] : ["skew over the new partitions:", ...skews, ""]),
    "stages:",
    ...plan.stages.map((s, i) => `${i + 1}. ${s.name}: ${s.text}`),
    "",
    `estimates (at ${n(e.copyRecordsPerSecond)} records/s, an assumed rate):`,
    `- records to copy: ${n(e.recordsToCopy)} (of which the inputs' unconsumed tails ${n(e.tailRecords)})`,
    `- duration: ~${seconds(e.totalMs)} (${n(e.recordsToCopy)} / ${n(e.copyRecordsPerSecond)} records/s = ${seconds(e.copyMs)}, + ${seconds(e.switchOverheadMs)})`,
    `- unavailable (freeze → switch): ~${seconds(e.unavailableMs)} (${n(e.tailRecords)} / ${n(e.copyRecordsPerSecond)} records/s + ${seconds(e.switchOverheadMs)})`,
    "",
    ...(plan.warnings.length === 0 ? [] : ["warnings:", ...plan.warnings.map((w) => `- ${w}`), ""]),
    "assumptions:",
    ...plan.assumptions.map((a) => `- ${a}`),
  ];
  return `${lines.join("\n")}\n`;
}

function copyCell(t: PlannedTopic): string {
  const n = formatNumber;
  switch (t.copy) {
    case CopyKind.History:
      return `all ${n(t.toCopy)}`;
    case CopyKind.LatestValues:
      return `latest ${n(t.toCopy)}`;
    case CopyKind.Unconsumed:
      return `tail ${n(t.toCopy)}`;
    case CopyKind.None:
      return "none";
  }
}
