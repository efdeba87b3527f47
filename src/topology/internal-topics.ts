/** The topics a topology's application needs besides its sources and sinks. */
import type { Admin } from "@platformatic/kafka";
import { TopologyError } from "../errors/index.js";
import { deadLetterTopic, ensureTopics } from "../kafka/index.js";
import type { Logger } from "../log/index.js";
import { changelogTopic, type Topology } from "./builder.js";

/**
 * Changelogs are compacted; the active segment never is, so it rolls every 10 minutes (the
 * default is 7 days) and a restore reads at most that much beyond each key's latest value.
 */
const CHANGELOG_CONFIGS = { "cleanup.policy": "compact", "segment.ms": String(10 * 60_000) };

/**
 * Checks that the sources and sinks exist, creates the changelog topics (compacted, one
 * partition per task of their sub-topology) and the dead-letter topic; returns the partition
 * count of every topic the application writes or reads.
 */
export async function prepareTopics(
  admin: Admin,
  topology: Topology,
  applicationId: string,
  log: Logger,
): Promise<Map<string, number>> {
  const partitionCounts = new Map<string, number>();
  const existing = new Set(await admin.listTopics());
  const needed = [...new Set([...topology.sourceTopics(), ...topology.sinkTopics()])];
  const missing = needed.filter((t) => !existing.has(t));
  if (missing.length > 0) {
    throw new TopologyError(
      `topic(s) ${missing.join(", ")} do not exist: create them (with the partition counts you need) first`,
    );
  }
  const metadata = await admin.metadata({ topics: needed });
  for (const [name, topic] of metadata.topics) partitionCounts.set(name, topic.partitionsCount);
  const bySubtopology = topology.partitionsBySubtopology(partitionCounts);
  const changelogs: { topic: string; partitions: number }[] = [];
  for (const sub of topology.subtopologies) {
    for (const store of sub.stores) {
      if (topology.stores.get(store)?.changelog !== true) continue;
      const topic = changelogTopic(applicationId, store);
      const partitions = bySubtopology.get(sub.id) ?? 1;
      partitionCounts.set(topic, partitions);
      if (!existing.has(topic)) changelogs.push({ topic, partitions });
    }
  }
  const dlq = deadLetterTopic(applicationId);
  const created = await ensureTopics(admin, [
    ...changelogs.map(({ topic, partitions }) => ({
      topic,
      partitions,
      configs: CHANGELOG_CONFIGS,
    })),
    ...(existing.has(dlq) ? [] : [{ topic: dlq, partitions: 1 }]),
  ]);
  if (created.length > 0) log.info({ topics: created }, "created internal topics");
  partitionCounts.set(
    dlq,
    (await admin.metadata({ topics: [dlq] })).topics.get(dlq)?.partitionsCount ?? 1,
  );
  return partitionCounts;
}
