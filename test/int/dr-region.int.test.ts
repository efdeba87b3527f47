/**
 * The DR region of `stack up --dr` beside the DR Kafka: its registry reads MirrorMaker 2's copy
 * of the primary registry's journal, so a schema registered in the primary is served by the same
 * id in DR within seconds; its Connect worker has the Debezium plugin and keeps its group and
 * topics in the DR cluster. (The global setup starts the stack with DR when none is serving.)
 */
import { ConfigResourceTypes } from "@platformatic/kafka";
import { afterAll, describe, expect, inject, it } from "vitest";
import { withAdmin, type KafkaSettings } from "../../src/kafka/index.js";
import { POSTGRES_CONNECTOR_CLASS, REGISTRY_JOURNAL_TOPIC } from "../../src/stack/index.js";
import { waitUntil } from "../../src/util/index.js";
import { uniqueName } from "../support/names.js";

const { kafkaBrokers, drKafkaBrokers, schemaRegistryUrl, drSchemaRegistryUrl, drConnectUrl } =
  inject("connections");
const primary: KafkaSettings = { brokers: kafkaBrokers, clientId: "dr-region-int-test" };
const dr: KafkaSettings = { brokers: drKafkaBrokers, clientId: "dr-region-int-test" };
const subject = `${uniqueName("dr_region")}-value`;
const CONFLUENT_JSON = { "Content-Type": "application/vnd.schemaregistry.v1+json" };
// (the configs topic without .internal: MirrorMaker 2 copies a region's connector configs)
const DR_CONNECT_TOPICS = [
  "sagastream-connect-dr-configs",
  "sagastream-connect-dr-offsets.internal",
  "sagastream-connect-dr-status.internal",
];

afterAll(async () => {
  // Soft, then permanent: the deletions reach DR through the journal too.
  for (const query of ["", "?permanent=true"]) {
    await fetch(`${schemaRegistryUrl}/subjects/${subject}${query}`, { method: "DELETE" });
  }
});

async function json(url: string, init?: RequestInit): Promise<unknown> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

async function clusterOf(settings: KafkaSettings): Promise<{ id: string; topics: string[] }> {
  return withAdmin(settings, async (admin) => ({
    id: (await admin.metadata({ topics: [] })).id,
    topics: await admin.listTopics(),
  }));
}

describe("the DR region's registry", () => {
  it("serves a schema registered in the primary by the same id, within seconds", async () => {
    // Unique content, so that the id is new rather than one an earlier run registered.
    const schema = JSON.stringify({
      type: "record",
      name: "DrProbe",
      namespace: "dev.sagastream.test",
      fields: [{ name: "subject", type: "string", default: subject }],
    });
    const { id } = (await json(`${schemaRegistryUrl}/subjects/${subject}/versions`, {
      method: "POST",
      headers: CONFLUENT_JSON,
      body: JSON.stringify({ schema }),
    })) as { id: number };
    expect(id).toBeGreaterThan(0);

    const onDr = await waitUntil(
      async () => {
        const response = await fetch(`${drSchemaRegistryUrl}/schemas/ids/${id}`, {
          signal: AbortSignal.timeout(2000),
        });
        if (response.status === 404) return undefined;
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        return (await response.json()) as { schema: string };
      },
      { timeoutMs: 20_000, intervalMs: 200, description: `schema id ${id} on the DR registry` },
    );
    expect(JSON.parse(onDr.schema)).toEqual(JSON.parse(schema));
    expect(onDr).toEqual(await json(`${schemaRegistryUrl}/schemas/ids/${id}`));
    // ... and under the same subject and version.
    expect(await json(`${drSchemaRegistryUrl}/subjects/${subject}/versions/latest`)).toMatchObject({
      id,
      subject,
      version: 1,
    });
  });

  it("reads a DR copy of the journal that MirrorMaker 2 made with the primary's configs", async () => {
    const retention = (settings: KafkaSettings) =>
      withAdmin(settings, async (admin) => {
        const [described] = await admin.describeConfigs({
          resources: [
            {
              resourceType: ConfigResourceTypes.TOPIC,
              resourceName: REGISTRY_JOURNAL_TOPIC,
              configurationKeys: ["retention.ms"],
            },
          ],
        });
        return described?.configs.find((c) => c.name === "retention.ms")?.value;
      });
    expect(await retention(primary)).toBe("-1");
    expect(await retention(dr)).toBe("-1"); // never expired in DR either
  });
});

describe("the DR region's Connect worker", () => {
  it("lists the Debezium PostgreSQL connector plugin", async () => {
    const plugins = (await json(`${drConnectUrl}/connector-plugins`)) as { class: string }[];
    expect(plugins.map((p) => p.class)).toContain(POSTGRES_CONNECTOR_CLASS);
  });

  it("works against the DR cluster: its id, and its internal topics there, not in the primary", async () => {
    const { kafka_cluster_id: workerCluster } = (await json(`${drConnectUrl}/`)) as {
      kafka_cluster_id: string;
    };
    const drCluster = await clusterOf(dr);
    const primaryCluster = await clusterOf(primary);
    expect(workerCluster).toBe(drCluster.id);
    expect(workerCluster).not.toBe(primaryCluster.id);
    for (const topic of DR_CONNECT_TOPICS) {
      expect(drCluster.topics).toContain(topic);
      expect(primaryCluster.topics).not.toContain(topic);
    }
  });
});
