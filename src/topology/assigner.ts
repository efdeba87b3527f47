/**
 * The consumer-group assigner for topologies. The unit of assignment is a partition number:
 * partition p of every source topic goes to one member, since one task owns partition p of all
 * its co-partitioned topics (a round robin deals topic-partitions out in one sequence, which
 * splits a task between members whenever the member count does not divide the partition count).
 *
 * Sticky and lag-aware, as Kafka Streams' assignor: each member says in its subscription which
 * partitions it runs, which it keeps standby copies of, and how far its local copy of each
 * partition's stores reaches (the sum of their changelog offsets). A partition stays with the
 * member that runs it while that keeps the group balanced; one without an owner (its owner
 * left or died) goes to the member whose copy reaches furthest (a standby's), else to the
 * least loaded. So a join or a leave moves only the partitions it must, and a dead member's
 * partitions go where they restore least. Standby copies go to other members, again preferring
 * those that hold one already. Standbys travel in the assignment as the partitions of a
 * topic that does not exist, STANDBY_TOPIC.
 */
import type { GroupPartitionsAssigner } from "@platformatic/kafka";

export const COPARTITIONED_ASSIGNER = "sagastream-copartitioned";
/** 2: members describe their state in JSON (1 sent the advertised address alone). */
export const ASSIGNER_VERSION = 2;
/** The assignment's pseudo-topic whose partitions the member keeps standby copies of. */
export const STANDBY_TOPIC = "__sagastream.standby";

/** What a member says of itself when it joins. */
export interface MemberState {
  /** A string it advertises to its group (a worker's query address). */
  address: string;
  /** Partitions it runs. */
  active: number[];
  /** Partitions it keeps standby copies of. */
  standby: number[];
  /** Per partition with local state: how far its stores reach (sum of changelog offsets). */
  offsets: Record<string, string>;
}

export function encodeMemberState(state: MemberState): Buffer {
  return Buffer.from(JSON.stringify(state));
}

/** Tolerates a member of version 1, whose user data was its address alone. */
export function decodeMemberState(userData: Buffer | string | null | undefined): MemberState {
  const text = userData === null || userData === undefined ? "" : userData.toString();
  try {
    const parsed = JSON.parse(text) as Partial<MemberState> | null;
    if (typeof parsed?.address === "string") {
      return {
        address: parsed.address,
        active: parsed.active ?? [],
        standby: parsed.standby ?? [],
        offsets: parsed.offsets ?? {},
      };
    }
  } catch {
    // version 1: the address as text
  }
  return { address: text, active: [], standby: [], offsets: {} };
}

export interface PartitionPlan {
  /** Member id → partitions it runs. */
  active: Map<string, number[]>;
  /** Member id → partitions it keeps standby copies of. */
  standby: Map<string, number[]>;
}

/** How far `member`'s copy of `partition` reaches (-1: it has none). */
function reach(member: MemberState, partition: number): bigint {
  const offset = member.offsets[String(partition)];
  return offset === undefined ? -1n : BigInt(offset);
}

/** The best of `candidates` for `partition`: furthest copy, then fewest assigned, then id. */
function best(
  candidates: readonly string[],
  partition: number,
  members: ReadonlyMap<string, MemberState>,
  load: (member: string) => number,
): string | undefined {
  let chosen: string | undefined;
  for (const id of candidates) {
    if (chosen === undefined) {
      chosen = id;
      continue;
    }
    const [a, b] = [members.get(id) as MemberState, members.get(chosen) as MemberState];
    const [ra, rb] = [reach(a, partition), reach(b, partition)];
    if (ra > rb || (ra === rb && load(id) < load(chosen))) chosen = id;
  }
  return chosen;
}

/**
 * Which member runs each of `partitions` partitions, and which keep its standby copies
 * (up to `standbys` each, never the member running it).
 */
export function planAssignment(
  members: ReadonlyMap<string, MemberState>,
  partitions: number,
  standbys: number,
): PartitionPlan {
  const ids = [...members.keys()].sort();
  const state = (id: string) => members.get(id) as MemberState;
  const active = new Map<string, number[]>(ids.map((id) => [id, []]));
  const count = (id: string) => active.get(id)?.length ?? 0;
  const share = Math.ceil(partitions / Math.max(1, ids.length));
  const underShare = () => ids.filter((id) => count(id) < share);
  const owner = new Map<number, string>();
  const give = (partition: number, id: string) => {
    owner.set(partition, id);
    active.get(id)?.push(partition);
  };
  const claimants = (p: number) => ids.filter((id) => state(id).active.includes(p));
  // Sticky: a partition stays where it runs (a member claiming more than its share keeps the
  // lowest ones); two members claiming it (one was replaced), the furthest copy wins.
  for (let p = 0; p < partitions; p++) {
    const id = best(
      claimants(p).filter((c) => count(c) < share),
      p,
      members,
      count,
    );
    if (id !== undefined) give(p, id);
  }
  // A partition whose owner is gone goes to the member whose copy reaches furthest, past its
  // share if need be (as Kafka Streams' high-availability assignor): it resumes at once where
  // another would restore from zero; it is pinned there. The others go to members under their
  // share (one claimed past its owner's share: to a member that joined, which restores it).
  const pinned = new Set<number>();
  for (let p = 0; p < partitions; p++) {
    if (owner.has(p)) continue;
    const holders = ids.filter((id) => reach(state(id), p) >= 0n);
    let id = best(
      holders.filter((c) => count(c) < share),
      p,
      members,
      count,
    );
    if (id === undefined && claimants(p).length === 0) {
      id = best(holders, p, members, count);
      if (id !== undefined) pinned.add(p);
    }
    id ??= best(underShare(), p, members, count) ?? best(ids, p, members, count);
    if (id !== undefined) give(p, id);
  }
  // Evened out: the least loaded takes from the fullest, first a partition it holds a copy of;
  // a pinned partition moves only to a member holding a copy.
  for (;;) {
    const byLoad = [...ids].sort((a, b) => count(a) - count(b) || a.localeCompare(b));
    const [least, fullest] = [byLoad[0] as string, byLoad[byLoad.length - 1] as string];
    if (count(fullest) - count(least) <= 1) break;
    const taker = state(least);
    const from = active.get(fullest) as number[];
    const movable = from.filter((p) => !pinned.has(p) || reach(taker, p) >= 0n);
    const moved = movable.sort((a, b) => Number(reach(taker, b) - reach(taker, a)) || b - a)[0];
    if (moved === undefined) break; // uneven until copies exist (Kafka Streams warms them up)
    from.splice(from.indexOf(moved), 1);
    give(moved, least);
  }
  for (const list of active.values()) list.sort((a, b) => a - b);
  return { active, standby: placeStandbys(ids, members, owner, partitions, standbys) };
}

/**
 * Up to `standbys` copies of each partition, on members other than its owner: those that hold
 * one already first, spread so that no member keeps more than its share of copies.
 */
function placeStandbys(
  ids: readonly string[],
  members: ReadonlyMap<string, MemberState>,
  owner: ReadonlyMap<number, string>,
  partitions: number,
  standbys: number,
): Map<string, number[]> {
  const standby = new Map<string, number[]>(ids.map((id) => [id, []]));
  const copies = (id: string) => standby.get(id)?.length ?? 0;
  const share = Math.ceil((partitions * standbys) / Math.max(1, ids.length));
  for (let p = 0; p < partitions; p++) {
    for (let copy = 0; copy < standbys; copy++) {
      const free = ids.filter((id) => id !== owner.get(p) && standby.get(id)?.includes(p) !== true);
      const id =
        best(
          free.filter((c) => copies(c) < share),
          p,
          members,
          copies,
        ) ?? best(free, p, members, copies);
      if (id === undefined) break;
      standby.get(id)?.push(p);
    }
  }
  return standby;
}

/** The assigner for a group whose members keep `standbys` standby copies of each partition. */
export function copartitionedAssigner(standbys: number): GroupPartitionsAssigner {
  return (_leader, members, topics, metadata) => {
    const subscribed = new Set(topics);
    for (const member of members.values())
      for (const topic of member.topics ?? []) subscribed.add(topic);
    const counts = new Map(
      [...subscribed].map((topic) => [topic, metadata.topics.get(topic)?.partitionsCount ?? 0]),
    );
    const partitions = Math.max(0, ...counts.values());
    const states = new Map(
      [...members].map(([id, member]) => [id, decodeMemberState(member.metadata)]),
    );
    const plan = planAssignment(states, partitions, standbys);
    return [...plan.active].map(([memberId, owned]) => {
      const assignments = new Map<string, { topic: string; partitions: number[] }>();
      for (const [topic, count] of counts) {
        assignments.set(topic, { topic, partitions: owned.filter((p) => p < count) });
      }
      const copies = plan.standby.get(memberId) ?? [];
      if (copies.length > 0)
        assignments.set(STANDBY_TOPIC, { topic: STANDBY_TOPIC, partitions: copies });
      return { memberId, assignments };
    });
  };
}

/** A member's assignment as it arrives: source topic → partitions, and the standby copies. */
export function splitAssignment(
  assignments: readonly { topic: string; partitions: readonly number[] }[],
): { assignment: Map<string, number[]>; copies: number[] } {
  const assignment = new Map<string, number[]>();
  let copies: number[] = [];
  for (const { topic, partitions } of assignments) {
    if (topic === STANDBY_TOPIC) copies = [...partitions];
    else assignment.set(topic, [...partitions]);
  }
  return { assignment, copies };
}
