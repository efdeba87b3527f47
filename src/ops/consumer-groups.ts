/** Consumer-group chores the ops tools share. */
import type { KafkaAdmin } from "../kafka/index.js";
import { waitUntil } from "../util/index.js";

/** Waits until none of `groups` has a member; `why` says what a timeout means. */
export async function waitForEmptyGroups(
  admin: KafkaAdmin,
  groups: readonly string[],
  options: { timeoutMs: number; why: string; log: (line: string) => void },
): Promise<void> {
  let said = "";
  await waitUntil(
    async () => {
      const described = await admin.describeGroups({ groups: [...groups] });
      const busy = groups.filter((g) => (described.get(g)?.members.size ?? 0) > 0);
      const line = busy.join(", ");
      if (busy.length > 0 && line !== said) options.log(`waiting for ${line} to stop`);
      said = line;
      return busy.length === 0 || undefined;
    },
    { timeoutMs: options.timeoutMs, intervalMs: 500, description: options.why },
  );
}

/** A group's committed offsets on `topic`, by partition (none committed: empty). */
export async function groupOffsets(
  admin: KafkaAdmin,
  group: string,
  topic: string,
): Promise<Map<number, bigint>> {
  const [listed] = await admin.listConsumerGroupOffsets({ groups: [group] });
  const partitions = listed?.topics.find((t) => t.name === topic)?.partitions ?? [];
  return new Map(
    partitions
      .filter((p) => p.committedOffset >= 0n)
      .map((p) => [p.partitionIndex, p.committedOffset]),
  );
}

/** Waits until `group` has a member; `why` says what a timeout means. */
export async function waitForMember(
  admin: KafkaAdmin,
  group: string,
  options: { timeoutMs: number; why: string },
): Promise<void> {
  await waitUntil(
    async () => {
      const described = await admin.describeGroups({ groups: [group] });
      return (described.get(group)?.members.size ?? 0) > 0 || undefined;
    },
    { timeoutMs: options.timeoutMs, intervalMs: 250, description: options.why },
  );
}
