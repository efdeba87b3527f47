/** The topics a topology's application needs besides its sources and sinks. */
import type { Admin } from "@platformatic/kafka";
import { TopologyError } from "../errors/index.js";
import { deadLetterTopic } from "../kafka/index.js";
import type { Logger } from "../log/index.js";
import { changelogTopic, type Topology } from "./builder.js";

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
  if (changelogs.length > 0) {
    await admin.createTopics({
      topics: changelogs.map(({ topic, partitions }) => ({ topic, partitions, replicas: -1 })),
      configs: [{ name: "cleanup.policy", value: "compact" }],
    });
    log.info({ topics: changelogs.map((t) => t.topic) }, "created internal topics");
  }
  const dlq = deadLetterTopic(applicationId);
  if (!existing.has(dlq)) {
    await admin.createTopics({ topics: [dlq], partitions: 1, replicas: -1 });
  }
  partitionCounts.set(
    dlq,
    (await admin.metadata({ topics: [dlq] })).topics.get(dlq)?.partitionsCount ?? 1,
  );
  return partitionCounts;
}
