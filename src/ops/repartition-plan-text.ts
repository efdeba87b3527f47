/**
 * What a repartition plan (repartition-plan.ts) says in words and figures: the stages of the
 * move with the application's topic and group names, the duration and unavailability
 * estimated from the records to copy and a rate, the assumptions behind them, and the plan as
 * `sagastream repartition --plan` prints it.
 */
import { generationId, layoutTopic, LayoutState } from "../saga/index.js";
import { formatTable } from "../util/index.js";
import { formatNumber, humanBytes } from "./capacity.js";
import { participantGroup, TopicRole } from "./app-topics.js";
import {
  CopyKind,
  type PlannedTopic,
  type RepartitionPlan,
  type RepartitionPlanOptions,
} from "./repartition-plan.js";

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

/** The assumptions behind the plan's figures, in words. */
export function assumptionsOf(
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
