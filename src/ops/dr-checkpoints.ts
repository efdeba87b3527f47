/**
 * Consumer groups as DR sees them: MirrorMaker's newest checkpoint of each group's partitions
 * (mirror-internals.ts), its age, and how far it trails what the group has committed on the
 * primary since (a failover resumes the group from its checkpoint: that much is read again).
 */
import type { ClusterLogs } from "./cluster-logs.js";
import { checkpointsTopic, decodeCheckpoint, type Checkpoint } from "./mirror-internals.js";

export interface TimedCheckpoint extends Checkpoint {
  /** When MirrorMaker wrote it (the record's timestamp). */
  at: number;
}

export interface CheckpointRead {
  /** The newest checkpoint of each group's topic-partition. */
  checkpoints: TimedCheckpoint[];
  /** Records of the topic that are not checkpoints of a version this reader knows. */
  undecodable: number;
  /** False when DR has no checkpoints topic. */
  found: boolean;
}

export interface GroupCheckpoint {
  group: string;
  /** Partitions with a checkpoint. */
  partitions: number;
  /** When its newest checkpoint was written (undefined: it has none on DR). */
  newestAt: number | undefined;
  ageSeconds: number | undefined;
  /**
   * Σ over its checkpointed partitions of the offset it has committed on the primary minus the
   * checkpoint's upstream offset (primary offsets: transaction markers count); undefined when
   * the primary was not asked or has no offsets of the group.
   */
  behindOffsets: number | undefined;
}

/** Committed offsets on the primary: group → "topic/partition" → offset. */
export type CommittedOffsets = ReadonlyMap<string, ReadonlyMap<string, bigint>>;

const at = (topic: string, partition: number) => `${topic}/${partition}`;

/**
 * Reads DR's checkpoints topic whole (compacted: one record per group and partition, about,
 * once its segments roll). `notAfter` picks, per group and partition, the newest checkpoint
 * written at or before the time it gives (default: the newest of all).
 */
export async function readCheckpoints(
  dr: ClusterLogs,
  sourceAlias?: string,
  notAfter?: (checkpoint: Checkpoint) => number,
): Promise<CheckpointRead> {
  const topic = checkpointsTopic(sourceAlias);
  const count = (await dr.partitionCounts([topic])).get(topic) ?? 0;
  const newest = new Map<string, TimedCheckpoint>();
  let undecodable = 0;
  for (const log of await dr.logs(topic, count)) {
    for await (const record of log.records(log.start, log.end)) {
      if (record.key === null || record.value === null) continue; // a tombstone
      try {
        const checkpoint = decodeCheckpoint(record.key, record.value);
        if (notAfter !== undefined && record.timestamp > notAfter(checkpoint)) continue;
        const id = `${checkpoint.group}\0${at(checkpoint.topic, checkpoint.partition)}`;
        newest.set(id, { ...checkpoint, at: record.timestamp });
      } catch {
        undecodable += 1;
      }
    }
  }
  return { checkpoints: [...newest.values()], undecodable, found: count > 0 };
}

/**
 * Each group's checkpoint status: the groups named (an application's: a group without a
 * checkpoint is listed too), else every group with a checkpoint.
 */
export function groupCheckpoints(
  checkpoints: readonly TimedCheckpoint[],
  options: {
    now: number;
    groups?: readonly string[] | undefined;
    committed?: CommittedOffsets | undefined;
  },
): GroupCheckpoint[] {
  const groups = options.groups ?? [...new Set(checkpoints.map((c) => c.group))];
  return [...new Set(groups)].sort().map((group): GroupCheckpoint => {
    const own = checkpoints.filter((c) => c.group === group);
    const newestAt = own.length === 0 ? undefined : Math.max(...own.map((c) => c.at));
    const committed = options.committed?.get(group);
    let behind: bigint | undefined;
    for (const c of own) {
      const offset = committed?.get(at(c.topic, c.partition));
      if (offset === undefined) continue;
      behind = (behind ?? 0n) + (offset > c.upstreamOffset ? offset - c.upstreamOffset : 0n);
    }
    return {
      group,
      partitions: own.length,
      newestAt,
      ageSeconds: newestAt === undefined ? undefined : Math.max(0, options.now - newestAt) / 1000,
      behindOffsets: behind === undefined ? undefined : Number(behind),
    };
  });
}

/** The groups' committed offsets on a cluster, as groupCheckpoints takes them. */
export async function committedOffsets(
  cluster: ClusterLogs,
  groups: readonly string[],
): Promise<CommittedOffsets> {
  const committed = new Map<string, Map<string, bigint>>();
  if (groups.length === 0) return committed;
  for (const group of await cluster.admin.listConsumerGroupOffsets({ groups: [...groups] })) {
    const offsets = new Map<string, bigint>();
    for (const topic of group.topics) {
      for (const p of topic.partitions) {
        if (p.committedOffset >= 0n)
          offsets.set(at(topic.name, p.partitionIndex), p.committedOffset);
      }
    }
    committed.set(group.groupId, offsets);
  }
  return committed;
}
