/**
 * Where each of an application's consumer groups resumes in the region failed over to,
 * translated from MirrorMaker 2's checkpoints (dr-checkpoints.ts): each is the group's offset
 * on the primary at a moment, mapped to the DR copy, never past what was copied.
 *
 * Participants resume at their newest checkpoint: they deduplicate commands by idempotency key,
 * so what they read again changes nothing. The workers need more care: a worker commits an
 * input's offset in the same transaction as the events it decided, but the mirror copies the
 * offsets and the saga-events log separately, so the newest checkpoint may be past an input
 * whose events never reached DR. So the workers' group resumes, per partition, at the newest
 * checkpoint written MARGIN_MS before the last event DR holds on that partition (the inputs and
 * the log are co-partitioned by saga id), and no later than the first input stamped within the
 * margin: what it reads again, the engine ignores (a start of a saga that exists, a reply to a
 * step no longer waiting, a stale timer).
 */
import { ListOffsetTimestamps } from "@platformatic/kafka";
import type { KafkaAdmin, KafkaSettings } from "../kafka/index.js";
import { generationId, sagaTopics } from "../saga/index.js";
import { TopicRole, type AppTopic } from "./app-topics.js";
import { ClusterLogs } from "./cluster-logs.js";
import { readCheckpoints, type TimedCheckpoint } from "./dr-checkpoints.js";

/** How far before the last mirrored event the workers' inputs are read again. */
export const MARGIN_MS = 10_000;

export interface GroupResume {
  group: string;
  /** Partitions whose offset it sets. */
  partitions: number;
  /** Records before the newest checkpoints that are read again. */
  reread: number;
  /** Partitions with no checkpoint on DR (read from the time margin, or left as they are). */
  unchecked: number;
}

export interface ResumeOptions {
  kafka: KafkaSettings;
  applicationId: string;
  generation: number;
  groups: readonly string[];
  /** The application's topics, with their partition counts. */
  topics: readonly (AppTopic & { partitions: number })[];
  /** MirrorMaker 2's alias of the region failed over from (default "primary"). */
  sourceAlias?: string | undefined;
  dryRun?: boolean | undefined;
}

type Offsets = Map<string, bigint>;
const at = (topic: string, partition: number) => `${topic}/${partition}`;

/** ListOffsets for each (topic, partition, timestamp), by "topic/partition". */
async function listed(
  admin: KafkaAdmin,
  requests: readonly { topic: string; partition: number; timestamp: bigint }[],
): Promise<Map<string, { offset: bigint; timestamp: bigint }>> {
  const byTopic = new Map<string, { partitionIndex: number; timestamp: bigint }[]>();
  for (const r of requests) {
    const list = byTopic.get(r.topic) ?? [];
    list.push({ partitionIndex: r.partition, timestamp: r.timestamp });
    byTopic.set(r.topic, list);
  }
  if (byTopic.size === 0) return new Map();
  const answer = await admin.listOffsets({
    topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
  });
  const found = new Map<string, { offset: bigint; timestamp: bigint }>();
  for (const topic of answer) {
    for (const p of topic.partitions) {
      found.set(at(topic.name, p.partitionIndex), { offset: p.offset, timestamp: p.timestamp });
    }
  }
  return found;
}

function byPartition(checkpoints: readonly TimedCheckpoint[], group: string): Offsets {
  return new Map(
    checkpoints
      .filter((c) => c.group === group)
      .map((c) => [at(c.topic, c.partition), c.downstreamOffset]),
  );
}

const min = (a: bigint, b: bigint) => (a < b ? a : b);

/** Sets each group's offsets (see above); returns what it set, or would. */
export async function resumeOffsets(options: ResumeOptions): Promise<GroupResume[]> {
  const { applicationId: app, generation } = options;
  const workers = generationId(app, generation);
  const logs = new ClusterLogs(options.kafka, `${app}-failover`);
  try {
    const { admin } = logs;
    const events = sagaTopics(app, generation).events;
    const eventsPartitions = options.topics.find((t) => t.topic === events)?.partitions ?? 0;
    const lastEvents = await listed(
      admin,
      [...Array(eventsPartitions).keys()].map((partition) => ({
        topic: events,
        partition,
        timestamp: ListOffsetTimestamps.MAX,
      })),
    );
    // Inputs stamped from here on, per partition, are read again (0: every one).
    const cutoff = (partition: number): number => {
      const last = lastEvents.get(at(events, partition));
      return last === undefined || last.offset < 0n ? 0 : Number(last.timestamp) - MARGIN_MS;
    };
    const newest = (await readCheckpoints(logs, options.sourceAlias)).checkpoints;
    const older = (
      await readCheckpoints(logs, options.sourceAlias, (c) =>
        c.group === workers ? cutoff(c.partition) : Number.POSITIVE_INFINITY,
      )
    ).checkpoints;

    const resumes: GroupResume[] = [];
    for (const group of options.groups) {
      const latest = byPartition(newest, group);
      const chosen = byPartition(older, group);
      const targets = new Map<string, { topic: string; partition: number }>();
      if (group === workers) {
        // every input of the workers, checkpointed or not
        for (const t of options.topics) {
          if (t.role === TopicRole.Events || t.role === TopicRole.Commands) continue;
          if (t.role === TopicRole.DeadLetters || t.role === TopicRole.Changelog) continue;
          for (let partition = 0; partition < t.partitions; partition += 1) {
            targets.set(at(t.topic, partition), { topic: t.topic, partition });
          }
        }
      }
      for (const c of newest.filter((c) => c.group === group)) {
        targets.set(at(c.topic, c.partition), { topic: c.topic, partition: c.partition });
      }
      const timed =
        group === workers
          ? await listed(
              admin,
              [...targets.values()].map((t) => ({
                ...t,
                timestamp: BigInt(Math.max(0, cutoff(t.partition))),
              })),
            )
          : new Map<string, { offset: bigint }>();
      const ends = await listed(
        admin,
        [...targets.values()].map((t) => ({ ...t, timestamp: ListOffsetTimestamps.LATEST })),
      );
      let reread = 0n;
      let unchecked = 0;
      const offsets = new Map<string, { partition: number; offset: bigint }[]>();
      for (const [id, { topic, partition }] of targets) {
        const end = ends.get(id)?.offset ?? 0n;
        const newestAt = latest.get(id);
        let offset: bigint | undefined;
        if (group === workers) {
          const found = timed.get(id)?.offset ?? -1n;
          const byTime = found < 0n ? end : found;
          // (compaction may have left no checkpoint that old: the time margin alone then)
          const checkpoint = chosen.get(id);
          offset = checkpoint === undefined ? byTime : min(checkpoint, byTime);
        } else {
          offset = newestAt;
        }
        if (newestAt === undefined) unchecked += 1;
        if (offset === undefined) continue;
        if (newestAt !== undefined && newestAt > offset) reread += newestAt - offset;
        const list = offsets.get(topic) ?? [];
        list.push({ partition, offset: min(offset, end) });
        offsets.set(topic, list);
      }
      const topics = [...offsets].map(([name, partitionOffsets]) => ({ name, partitionOffsets }));
      if (options.dryRun !== true && topics.length > 0) {
        await admin.alterConsumerGroupOffsets({ groupId: group, topics });
      }
      resumes.push({
        group,
        partitions: topics.reduce((n, t) => n + t.partitionOffsets.length, 0),
        reread: Number(reread),
        unchecked,
      });
    }
    return resumes;
  } finally {
    await logs.close();
  }
}
