/**
 * Who is in a worker group, as its coordinator knows them: each member's advertised address
 * (from the state it joined with, assigner.ts) and the partitions it was assigned. The status
 * API asks it to find the worker that owns a saga.
 */
import type { Admin } from "@platformatic/kafka";
import { decodeMemberState } from "./assigner.js";

export interface GroupMember {
  memberId: string;
  address: string;
  partitions: number[];
}

export async function describeMembers(admin: Admin, groupId: string): Promise<GroupMember[]> {
  const groups = await admin.describeGroups({ groups: [groupId] });
  return [...(groups.get(groupId)?.members.values() ?? [])].map((member) => {
    const partitions = new Set(
      [...(member.assignments?.values() ?? [])].flatMap((a) => a.partitions),
    );
    const userData = member.metadata?.metadata;
    return {
      memberId: member.id,
      address: decodeMemberState(userData === undefined ? undefined : Buffer.from(userData))
        .address,
      partitions: [...partitions].sort((a, b) => a - b),
    };
  });
}
