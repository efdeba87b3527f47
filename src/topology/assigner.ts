/**
 * The consumer-group assigner for topologies: partition p of every source topic goes to the
 * same member, since one task owns partition p of all its co-partitioned topics (kafkajs's
 * round robin deals topic-partitions out in one sequence, which splits a task between members
 * whenever the member count does not divide the partition count). Members also advertise a
 * string (a worker's query address) in their metadata, readable by any member of the group.
 */
import {
  AssignerProtocol,
  type Cluster,
  type GroupMember,
  type GroupMemberAssignment,
  type PartitionAssigner,
} from "kafkajs";

export const COPARTITIONED_ASSIGNER = "sagastream-copartitioned";
const VERSION = 1;

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

export function copartitionedAssigner(advertised = ""): PartitionAssigner {
  return ({ cluster }: { cluster: Cluster }) => ({
    name: COPARTITIONED_ASSIGNER,
    version: VERSION,
    protocol: ({ topics }: { topics: string[] }) => ({
      name: COPARTITIONED_ASSIGNER,
      metadata: AssignerProtocol.MemberMetadata.encode({
        version: VERSION,
        topics,
        userData: Buffer.from(advertised),
      }),
    }),
    assign: ({
      members,
      topics,
    }: {
      members: GroupMember[];
      topics: string[];
    }): Promise<GroupMemberAssignment[]> => {
      const partitions = new Map(
        topics.map((t) => [t, cluster.findTopicPartitionMetadata(t).map((m) => m.partitionId)]),
      );
      const assignment = assignCopartitioned(
        members.map((m) => m.memberId),
        partitions,
      );
      return Promise.resolve(
        [...assignment].map(([memberId, byTopic]) => ({
          memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({
            version: VERSION,
            assignment: byTopic,
            userData: Buffer.alloc(0),
          }),
        })),
      );
    },
  });
}
