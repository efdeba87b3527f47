/**
 * The Debezium PostgreSQL connector with the Outbox EventRouter: routes by aggregate type to
 * `outbox.event.<aggregate>`, key = aggregate id, event type and ids as headers, payload bytes
 * (already Avro in the Confluent wire format) passed through untouched.
 */
import { publicationName } from "./outbox.js";
import type { ConnectorConfig } from "./connect-client.js";

export interface OutboxConnectorOptions {
  databaseUrl: string;
  /** Schema-qualified outbox table. */
  table: string;
  /** Prefix of the connector's own names (slot, topic prefix); [a-z0-9_]. */
  name: string;
  /** Topic per aggregate type (default `outbox.event.${routedByValue}`). */
  topicReplacement?: string | undefined;
}

/** Headers the EventRouter adds besides the ids (outbox.ts names the columns they come from). */
export const OUTBOX_HEADERS = {
  /** When the row was inserted (ISO 8601, from created_at): where Debezium's hop starts. */
  createdAt: "outboxCreatedAt",
} as const;

/** The replication slot a connector named `name` reads from. */
export function slotName(name: string): string {
  return `${name}_slot`;
}

export function outboxConnectorConfig(options: OutboxConnectorOptions): ConnectorConfig {
  const url = new URL(options.databaseUrl);
  return {
    "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
    "plugin.name": "pgoutput",
    "database.hostname": url.hostname,
    "database.port": url.port || "5432",
    "database.user": decodeURIComponent(url.username),
    "database.password": decodeURIComponent(url.password),
    "database.dbname": url.pathname.slice(1),
    "topic.prefix": options.name,
    "slot.name": slotName(options.name),
    "publication.name": publicationName(options.table),
    "publication.autocreate.mode": "disabled", // created by the outbox migration
    "table.include.list": options.table,
    "snapshot.mode": "no_data",
    "tombstones.on.delete": "false",
    // Debezium fills a batch for this long before handing it to Connect (default 500 ms).
    "poll.interval.ms": "20",
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
    transforms: "outbox",
    "transforms.outbox.type": "io.debezium.transforms.outbox.EventRouter",
    "transforms.outbox.route.topic.replacement":
      options.topicReplacement ?? "outbox.event.${routedByValue}",
    "transforms.outbox.table.field.event.key": "aggregateid",
    "transforms.outbox.table.fields.additional.placement": `type:header:eventType,correlation_id:header:correlationId,causation_id:header:causationId,traceparent:header:traceparent,created_at:header:${OUTBOX_HEADERS.createdAt}`,
  };
}
