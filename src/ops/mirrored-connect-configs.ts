/**
 * The connectors' configs of a Connect cluster, read from its config topic (as MirrorMaker 2
 * copies it into the DR region) rather than its REST API, which is gone with its region. The
 * topic's records are Connect's own: `connector-<name>` → `{"properties": {…}}`, null once the
 * connector is deleted; the latest of each key counts.
 */
import type { KafkaSettings } from "../kafka/index.js";
import type { ConnectorConfig } from "../outbox/index.js";
import { RangeReader } from "./range-reader.js";

const CONNECTOR_PREFIX = "connector-";

export async function readMirroredConnectorConfigs(
  kafka: KafkaSettings,
  topic: string,
): Promise<Map<string, ConnectorConfig>> {
  const configs = new Map<string, ConnectorConfig>();
  const reader = new RangeReader(kafka, {
    topic,
    from: { kind: "earliest" },
    to: { kind: "latest" },
  });
  try {
    for await (const { record } of reader.read(await reader.spans())) {
      const key = record.key?.toString("utf8");
      if (key?.startsWith(CONNECTOR_PREFIX) !== true) continue;
      const name = key.slice(CONNECTOR_PREFIX.length);
      if (record.value === null) {
        configs.delete(name);
        continue;
      }
      const value = JSON.parse(record.value.toString("utf8")) as { properties?: ConnectorConfig };
      if (value.properties !== undefined) configs.set(name, value.properties);
    }
  } finally {
    await reader.close();
  }
  return configs;
}
