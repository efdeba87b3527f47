/**
 * The consumer-group assigner for topologies: partition p of every source topic goes to the
 * same member, since one task owns partition p of all its co-partitioned topics (a round robin
 * deals topic-partitions out in one sequence, which splits a task between members whenever the
 * member count does not divide the partition count). Members also advertise a string (a
 * worker's query address) in their subscription's user data, readable by any member.
 */
import type { GroupPartitionsAssigner } from "@platformatic/kafka";

export const COPARTITIONED_ASSIGNER = "sagastream-copartitioned";
export const ASSIGNER_VERSION = 1;

/** Member ids in order, and for each the partitions (by topic) it gets. */
export function assignCopartitioned(
  memberIds: readonly string[],
  partitionsByTopic: ReadonlyMap<string, readonly number[]>,
): Map<string, Record<string, number[]>> {
  const sorted = [...memberIds].sort();
  const assignment = new Map<string, Record<string, number[]>>(sorted.map((m) => [m, {}]));
  for (const [topic, partitions] of partitionsByTopic) {
    for (const partition of partitions) {
      const member = sorted[partition % sorted.length];
      const byTopic = member === undefined ? undefined : assignment.get(member);
      if (byTopic === undefined) continue;
      (byTopic[topic] ??= []).push(partition);
    }
  }
  return assignment;
}

export const copartitionedAssigner: GroupPartitionsAssigner = (
  _leader,
  members,
  topics,
  metadata,
) => {
  const subscribed = new Set(topics);
  for (const member of members.values())
    for (const topic of member.topics ?? []) subscribed.add(topic);
  const partitions = new Map<string, number[]>();
  for (const topic of subscribed) {
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
    partitions.set(
      topic,
      Array.from({ length: count }, (_, i) => i),
    );
  }
  const assignment = assignCopartitioned([...members.keys()], partitions);
  return [...assignment].map(([memberId, byTopic]) => ({
    memberId,
    assignments: new Map(
      Object.entries(byTopic).map(([topic, assigned]) => [topic, { topic, partitions: assigned }]),
    ),
  }));
};
