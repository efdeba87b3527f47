/**
 * `sagastream dr status` (issue 16): how far DR trails the primary now. Per mirrored partition,
 * the committed records not on DR yet and the age of the oldest of them (replication-gap.ts);
 * per consumer group, the age of its newest checkpoint on DR (dr-checkpoints.ts); and the RPO
 * a loss of the primary now would cost: every unmirrored record, and the oldest one's age.
 *
 * An application's topics and groups are found as a repartition plan finds them; without one,
 * every topic MirrorMaker mirrors. The primary lost, the DR side is reported alone: each call
 * has a bounded timeout and the first one to the primary no retry.
 */
import { UsageError } from "../errors/index.js";
import type { ClientOptions, KafkaSettings } from "../kafka/index.js";
import { ClusterLogs } from "./cluster-logs.js";
import {
  committedOffsets,
  groupCheckpoints,
  readCheckpoints,
  type GroupCheckpoint,
} from "./dr-checkpoints.js";
import { isMirroredTopic } from "./mirror-internals.js";
import { GapBasis, lastRecord, replicationGap, type ReplicationGap } from "./replication-gap.js";
import { layoutRegion, PRIMARY_REGION } from "../saga/index.js";
import { groupsReading, readAppLayout, readAppTopics } from "./app-topics.js";

export interface DrStatusOptions {
  primary: KafkaSettings;
  dr: KafkaSettings;
  /** Only this application's topics and groups (default: every mirrored topic, every group). */
  applicationId?: string | undefined;
  /** MirrorMaker's alias of the primary (default "primary": checkpoints in primary.checkpoints.internal). */
  sourceAlias?: string | undefined;
  /** Stop counting a partition's unmirrored records here (default 100,000). */
  maxCount?: number | undefined;
}

export interface PartitionStatus {
  topic: string;
  partition: number;
  /** The primary's last stable offset (undefined: the primary did not answer). */
  primaryEnd: number | undefined;
  /** DR's end offset (undefined: DR has no such partition). */
  drEnd: number | undefined;
  /** When DR's last record was stamped (undefined: DR has none). */
  drLastAt: number | undefined;
  /** What of the primary is not on DR (undefined: the primary did not answer). */
  gap: ReplicationGap | undefined;
}

export interface Rpo {
  /** Σ unmirrored records. */
  records: number;
  /** Some partition's count stopped at the cap. */
  atLeast: boolean;
  /** The age of the oldest unmirrored record over every partition (0: none). */
  seconds: number;
}

export interface DrStatus {
  at: number;
  applicationId: string | undefined;
  primary: { brokers: string[]; reachable: boolean; error: string | undefined };
  dr: { brokers: string[] };
  partitions: PartitionStatus[];
  groups: GroupCheckpoint[];
  /** Undefined when the primary did not answer. */
  rpo: Rpo | undefined;
  notes: string[];
}

/** Every request bounded: a status must answer, the primary lost or not. */
const CLIENT: ClientOptions = { connectTimeoutMs: 3_000, requestTimeoutMs: 10_000, retries: 1 };

interface Scope {
  topics: string[];
  /** Undefined: every group with a checkpoint. */
  groups: string[] | undefined;
}

/** The topics (and groups) to report, read from `cluster`. */
async function scope(
  cluster: ClusterLogs,
  settings: KafkaSettings,
  applicationId: string | undefined,
): Promise<Scope> {
  if (applicationId === undefined) {
    const topics = (await cluster.admin.listTopics()).filter(isMirroredTopic).sort();
    return { topics, groups: undefined };
  }
  const found = await readAppTopics(cluster.admin, settings, applicationId);
  const topics = found.topics.map((t) => t.topic);
  const groups = new Set([
    found.workersGroup,
    ...topics.flatMap((t) => groupsReading(found.committed, t)),
  ]);
  return { topics, groups: [...groups] };
}

export function rpoOf(partitions: readonly PartitionStatus[]): Rpo {
  let records = 0;
  let atLeast = false;
  let seconds = 0;
  for (const { gap } of partitions) {
    if (gap === undefined) continue;
    records += gap.unmirrored;
    atLeast ||= gap.atLeast;
    seconds = Math.max(seconds, gap.lagSeconds);
  }
  return { records, atLeast, seconds };
}

async function topicStatus(
  topic: string,
  primary: ClusterLogs | undefined,
  dr: ClusterLogs,
  counts: { primary: number; dr: number },
  options: { now: number; maxCount?: number | undefined },
  notes: string[],
): Promise<PartitionStatus[]> {
  const drLogs = await dr.logs(topic, counts.dr);
  const primaryLogs = primary === undefined ? [] : await primary.logs(topic, counts.primary);
  if (primary !== undefined && counts.dr === 0 && counts.primary > 0) {
    notes.push(`${topic} is not on DR: all of it is unmirrored`);
  } else if (primary !== undefined && counts.dr !== counts.primary) {
    notes.push(`${topic} has ${counts.primary} partition(s) on the primary, ${counts.dr} on DR`);
  }
  const statuses: PartitionStatus[] = [];
  for (let partition = 0; partition < Math.max(drLogs.length, primaryLogs.length); partition++) {
    const drLog = drLogs[partition];
    const primaryLog = primaryLogs[partition];
    const drLast = drLog === undefined ? undefined : await lastRecord(drLog);
    const gap =
      primaryLog === undefined ? undefined : await replicationGap(primaryLog, drLast, options);
    if (gap?.basis === GapBasis.NotOnPrimary) {
      notes.push(
        `${topic}/${partition}: DR's last record is no longer on the primary (compacted or deleted): its count is an estimate`,
      );
    }
    statuses.push({
      topic,
      partition,
      primaryEnd: primaryLog === undefined ? undefined : Number(primaryLog.end),
      drEnd: drLog === undefined ? undefined : Number(drLog.end),
      drLastAt: drLast?.timestamp,
      gap,
    });
  }
  return statuses;
}

/** Reads DR's lag behind the primary now; changes nothing. */
export async function drStatus(options: DrStatusOptions): Promise<DrStatus> {
  const at = Date.now();
  const dr = new ClusterLogs(options.dr, `${options.dr.clientId}-dr-status`, CLIENT);
  const primary = new ClusterLogs(options.primary, `${options.primary.clientId}-dr-status`, CLIENT);
  try {
    const drError = await dr.reachable();
    if (drError !== undefined) {
      throw new UsageError(
        `no DR cluster answers at ${options.dr.brokers.join(",")} (${drError}): start the local one with \`sagastream stack up --dr\`, or set DR_KAFKA_BROKERS to yours`,
      );
    }
    const primaryError = await primary.reachable();
    const reachable = primaryError === undefined ? primary : undefined;
    const notes: string[] = [];
    if (reachable === undefined) {
      notes.push(
        `the primary did not answer (${primaryError}): DR's side only, no gap or RPO (it is whatever the primary had written past DR's last records)`,
      );
    }
    const drLayout =
      options.applicationId === undefined
        ? undefined
        : await readAppLayout(options.dr, options.applicationId);
    if (drLayout !== undefined && layoutRegion(drLayout) !== PRIMARY_REGION) {
      notes.push(
        `${options.applicationId} runs in region ${layoutRegion(drLayout)} (failed over): nothing is mirrored into it, and the gaps below compare logs that have diverged since; \`sagastream dr failback --app ${options.applicationId}\` once the primary is back`,
      );
    }
    const { topics, groups } = await scope(
      reachable ?? dr,
      reachable === undefined ? options.dr : options.primary,
      options.applicationId,
    );
    const [drCounts, primaryCounts] = await Promise.all([
      dr.partitionCounts(topics),
      reachable?.partitionCounts(topics),
    ]);
    const partitions: PartitionStatus[] = [];
    for (const topic of topics) {
      const counts = { primary: primaryCounts?.get(topic) ?? 0, dr: drCounts.get(topic) ?? 0 };
      const gapOptions = { now: at, maxCount: options.maxCount };
      partitions.push(...(await topicStatus(topic, reachable, dr, counts, gapOptions, notes)));
    }
    const read = await readCheckpoints(dr, options.sourceAlias);
    if (!read.found) {
      notes.push(
        "DR has no checkpoints topic: MirrorMaker has not checkpointed a group (emit.checkpoints.enabled?)",
      );
    }
    if (read.undecodable > 0) {
      notes.push(`${read.undecodable} record(s) of the checkpoints topic could not be decoded`);
    }
    const names = groups ?? [...new Set(read.checkpoints.map((c) => c.group))];
    const committed =
      reachable === undefined ? undefined : await committedOffsets(reachable, names);
    return {
      at,
      applicationId: options.applicationId,
      primary: {
        brokers: options.primary.brokers,
        reachable: reachable !== undefined,
        error: primaryError,
      },
      dr: { brokers: options.dr.brokers },
      partitions,
      groups: groupCheckpoints(read.checkpoints, { now: at, groups: names, committed }),
      rpo: reachable === undefined ? undefined : rpoOf(partitions),
      notes,
    };
  } finally {
    await Promise.all([dr.close(), primary.close()]);
  }
}
