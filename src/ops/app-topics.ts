/**
 * An application's topics in its live generation, found on a cluster: the layout record says
 * which generation (else 0), the saga topics are named by the application's id, and the start
 * topics are the ones its workers' group has committed offsets on (or are named). The
 * repartition plan, the DR failover and `dr status` find them so.
 */
import { UsageError } from "../errors/index.js";
import { deadLetterTopic, type KafkaAdmin, type KafkaSettings } from "../kafka/index.js";
import {
  generationId,
  LayoutLog,
  layoutTopic,
  SAGA_STORES,
  sagaTopics,
  type AppLayout,
} from "../saga/index.js";
import { changelogTopic } from "../topology/index.js";

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
export type CommittedOffsets = Map<string, Map<string, Map<number, bigint>>>;

export async function committedOffsets(admin: KafkaAdmin): Promise<CommittedOffsets> {
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

/** The application's layout record, if it has one. */
export async function readAppLayout(
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

/** One of the application's topics. */
export interface AppTopic {
  topic: string;
  role: TopicRole;
  /** Commands: whose. */
  participant?: string | undefined;
  /** Changelogs: of which store. */
  store?: string | undefined;
}

export interface AppTopics {
  /** The layout record, if the application has one. */
  layout: AppLayout | undefined;
  generation: number;
  /** Its workers' consumer group in that generation. */
  workersGroup: string;
  /** In the order a plan lists them: saga-events, replies, control, commands, starts, dead letters, changelogs. */
  topics: AppTopic[];
  existing: ReadonlySet<string>;
  committed: CommittedOffsets;
  /** What was looked for and not found. */
  warnings: string[];
}

/** The application's topics in its live generation (or the one its frozen layout names). */
export async function readAppTopics(
  admin: KafkaAdmin,
  kafka: KafkaSettings,
  app: string,
  startTopics: readonly string[] = [],
): Promise<AppTopics> {
  const warnings: string[] = [];
  const existing = new Set(await admin.listTopics());
  const layout = existing.has(layoutTopic(app)) ? await readAppLayout(kafka, app) : undefined;
  const generation = layout?.generation ?? 0;
  const names = sagaTopics(app, generation);
  if (!existing.has(names.events)) {
    throw new UsageError(
      `no topic ${names.events} on the cluster: is "${app}" the application's id?` +
        (layout === undefined ? "" : ` (its layout names generation ${generation} live)`),
    );
  }
  const workers = generationId(app, generation);
  const committed = await committedOffsets(admin);
  const workersCommitted = committed.get(workers);

  const topics: AppTopic[] = [];
  const add = (topic: string, role: TopicRole, extra: Omit<AppTopic, "topic" | "role"> = {}) => {
    if (!topics.some((t) => t.topic === topic)) topics.push({ topic, role, ...extra });
  };
  add(names.events, TopicRole.Events);
  for (const [topic, role] of [
    [names.replies, TopicRole.Replies],
    [names.control, TopicRole.Control],
  ] as const) {
    if (existing.has(topic)) add(topic, role);
    else warnings.push(`no topic ${topic}: the workers create it when they start`);
  }
  for (const topic of [...existing].sort()) {
    const participant = commandsParticipant(app, generation, topic);
    if (participant !== undefined) add(topic, TopicRole.Commands, { participant });
  }
  const dlq = deadLetterTopic(workers);
  const changelogs = Object.values(SAGA_STORES).map((store) => ({
    store,
    topic: changelogTopic(workers, store),
  }));
  const known = new Set([...topics.map((t) => t.topic), dlq, ...changelogs.map((c) => c.topic)]);
  const missing = startTopics.filter((topic) => !existing.has(topic));
  if (missing.length > 0) {
    throw new UsageError(`no start topic ${missing.join(", ")} on the cluster`);
  }
  const starts = new Set(startTopics);
  for (const topic of workersCommitted?.keys() ?? []) {
    if (known.has(topic) || starts.has(topic)) continue;
    if (existing.has(topic)) starts.add(topic);
    else warnings.push(`group ${workers} has offsets on ${topic}, which no longer exists`);
  }
  for (const topic of [...starts].sort()) add(topic, TopicRole.Start);
  if (workersCommitted === undefined) {
    warnings.push(
      `the workers' group ${workers} has committed no offsets: its inputs' tails count whole, and start topics cannot be found (name them with --topic)`,
    );
  } else if (starts.size === 0) {
    warnings.push(
      `no start topic found: group ${workers} has committed offsets only on ${names.replies} and ${names.control} (name start topics with --topic)`,
    );
  }
  if (existing.has(dlq)) add(dlq, TopicRole.DeadLetters);
  for (const { store, topic } of changelogs) {
    if (existing.has(topic)) add(topic, TopicRole.Changelog, { store });
    else warnings.push(`no changelog ${topic} (store "${store}"): nothing of it to copy`);
  }
  return { layout, generation, workersGroup: workers, topics, existing, committed, warnings };
}

/** The consumer groups with committed offsets on `topic`. */
export function groupsReading(committed: CommittedOffsets, topic: string): string[] {
  return [...committed]
    .filter(([, byTopic]) => byTopic.has(topic))
    .map(([group]) => group)
    .sort();
}
