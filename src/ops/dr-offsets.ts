/**
 * Where each of an application's consumer groups resumes in the region failed over to.
 *
 * MirrorMaker 2 translates each group's committed offsets into the DR cluster every few
 * seconds (its checkpoints), never past what it copied. But a worker commits an input's offset
 * in the same transaction as the events it decided, and the mirror copies the input offsets and
 * the saga-events log separately: when the primary is lost, DR may hold a group offset past an
 * input whose events never arrived. So the workers' group is set back, per partition, to before
 * the inputs stamped within MARGIN_MS of the last event DR holds on that partition (the
 * saga-events log and the inputs are co-partitioned by saga id): those inputs are read again,
 * and the engine ignores what its state shows it has seen (a start of a saga that exists, a reply
 * to a step no longer waiting, a stale timer). Participants deduplicate commands by their
 * idempotency key, so their groups resume where the mirror put them.
 */
import { ListOffsetTimestamps } from "@platformatic/kafka";
import { createAdmin, type KafkaAdmin, type KafkaSettings } from "../kafka/index.js";
import { generationId, sagaTopics } from "../saga/index.js";
import { TopicRole, type AppTopic } from "./app-topics.js";

/** How far before the last mirrored event the workers' inputs are read again. */
export const MARGIN_MS = 10_000;

export interface GroupResume {
  group: string;
  /** Partitions whose offset it sets. */
  partitions: number;
  /** Records before the mirror's offsets that are read again. */
  reread: number;
  note?: string | undefined;
}

export interface ResumeOptions {
  kafka: KafkaSettings;
  applicationId: string;
  generation: number;
  groups: readonly string[];
  /** The application's input topics (starts, replies, control, commands). */
  inputs: readonly (AppTopic & { partitions: number })[];
  dryRun?: boolean | undefined;
}

type Offsets = Map<string, Map<number, bigint>>;

async function listed(
  admin: KafkaAdmin,
  requests: { topic: string; partition: number; timestamp: bigint }[],
): Promise<Map<string, { offset: bigint; timestamp: bigint }>> {
  const byTopic = new Map<string, { partitionIndex: number; timestamp: bigint }[]>();
  for (const r of requests) {
    const list = byTopic.get(r.topic) ?? [];
    list.push({ partitionIndex: r.partition, timestamp: r.timestamp });
    byTopic.set(r.topic, list);
  }
  const answer = await admin.listOffsets({
    topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
  });
  const found = new Map<string, { offset: bigint; timestamp: bigint }>();
  for (const topic of answer) {
    for (const p of topic.partitions) {
      found.set(`${topic.name}/${p.partitionIndex}`, { offset: p.offset, timestamp: p.timestamp });
    }
  }
  return found;
}

async function committed(admin: KafkaAdmin, group: string): Promise<Offsets> {
  const [answer] = await admin.listConsumerGroupOffsets({ groups: [group] });
  const offsets: Offsets = new Map();
  for (const topic of answer?.topics ?? []) {
    const partitions = new Map<number, bigint>();
    for (const p of topic.partitions) {
      if (p.committedOffset >= 0n) partitions.set(p.partitionIndex, p.committedOffset);
    }
    offsets.set(topic.name, partitions);
  }
  return offsets;
}

/** Sets the workers' group back (see above); returns what it set, or would. */
export async function resumeOffsets(options: ResumeOptions): Promise<GroupResume[]> {
  const { applicationId: app, generation } = options;
  const workers = generationId(app, generation);
  const admin = createAdmin(options.kafka);
  try {
    const resumes: GroupResume[] = [];
    for (const group of options.groups) {
      if (group !== workers) {
        resumes.push({ group, partitions: 0, reread: 0, note: "as the mirror translated them" });
        continue;
      }
      const events = sagaTopics(app, generation).events;
      const inputs = options.inputs.filter((t) => t.role !== TopicRole.Commands);
      const count = Math.max(...inputs.map((t) => t.partitions), 0);
      const partitions = [...Array(count).keys()];
      const lastEvents = await listed(
        admin,
        partitions.map((partition) => ({
          topic: events,
          partition,
          timestamp: ListOffsetTimestamps.MAX,
        })),
      );
      const current = await committed(admin, group);
      const requests = inputs.flatMap((t) =>
        partitions.map((partition) => {
          const last = lastEvents.get(`${events}/${partition}`);
          const at = last === undefined || last.offset < 0n ? 0n : last.timestamp;
          const from = at - BigInt(MARGIN_MS);
          return { topic: t.topic, partition, timestamp: from > 0n ? from : 0n };
        }),
      );
      const [before, ends] = await Promise.all([
        listed(admin, requests),
        listed(
          admin,
          requests.map((r) => ({ ...r, timestamp: ListOffsetTimestamps.LATEST })),
        ),
      ]);
      const topics: { name: string; partitionOffsets: { partition: number; offset: bigint }[] }[] =
        [];
      let reread = 0n;
      for (const t of inputs) {
        const partitionOffsets = partitions.map((partition) => {
          const at = `${t.topic}/${partition}`;
          const end = ends.get(at)?.offset ?? 0n;
          const found = before.get(at)?.offset ?? -1n;
          const rewound = found < 0n ? end : found;
          const mirrored = current.get(t.topic)?.get(partition) ?? rewound;
          const offset = rewound < mirrored ? rewound : mirrored;
          reread += mirrored - offset;
          return { partition, offset };
        });
        topics.push({ name: t.topic, partitionOffsets });
      }
      if (options.dryRun !== true && topics.length > 0) {
        await admin.alterConsumerGroupOffsets({ groupId: group, topics });
      }
      resumes.push({
        group,
        partitions: topics.reduce((n, t) => n + t.partitionOffsets.length, 0),
        reread: Number(reread),
        note: `inputs from ${MARGIN_MS / 1000} s before each partition's last mirrored event`,
      });
    }
    return resumes;
  } finally {
    await admin.close();
  }
}
