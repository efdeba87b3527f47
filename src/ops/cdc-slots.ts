/**
 * The replication slots of a region's outbox connectors. A Debezium connector resumes from its
 * slot's confirmed position, which moves only once what it published is committed in its own
 * Kafka. The DR region's connector reads a copy of the primary's slot, made at the failover:
 * it starts where the primary's last confirmed (every row after it is published again, in DR),
 * and it never contends for a slot with a primary connector still alive (a Connect worker whose
 * Kafka is gone holds its slot, retrying forever).
 */
import pg from "pg";
import { PRIMARY_REGION } from "../saga/index.js";
import type { ConnectorConfig } from "../outbox/index.js";

function suffix(region: string): string {
  return region === PRIMARY_REGION ? "" : `_${region.toLowerCase().replace(/[^a-z0-9_]/g, "_")}`;
}

/** What the slot `slot` of a connector in region `from` is called in region `to`. */
export function slotIn(slot: string, from: string, to: string): string {
  const own = suffix(from);
  const base = own !== "" && slot.endsWith(own) ? slot.slice(0, -own.length) : slot;
  return `${base}${suffix(to)}`;
}

/** A connection as the connector's own user (a replication role may copy and drop slots). */
function connectorClient(config: ConnectorConfig): pg.Client {
  return new pg.Client({
    host: config["database.hostname"],
    port: Number(config["database.port"] ?? "5432"),
    user: config["database.user"],
    password: config["database.password"],
    database: config["database.dbname"],
  });
}

export type SlotCopy = "copied" | "exists" | "no source";

/** Copies slot `from` to `to` unless `to` exists (a rerun). */
export async function copySlot(
  config: ConnectorConfig,
  from: string,
  to: string,
): Promise<SlotCopy> {
  const client = connectorClient(config);
  await client.connect();
  try {
    const slots = await client.query<{ slot_name: string }>(
      "SELECT slot_name FROM pg_replication_slots WHERE slot_name = ANY($1)",
      [[from, to]],
    );
    const names = new Set(slots.rows.map((r) => r.slot_name));
    if (names.has(to)) return "exists";
    if (!names.has(from)) return "no source";
    await client.query("SELECT pg_copy_logical_replication_slot($1, $2)", [from, to]);
    return "copied";
  } finally {
    await client.end();
  }
}

/** Drops `slot`, ending the session that reads it if one does; false when there is none. */
export async function dropSlot(config: ConnectorConfig, slot: string): Promise<boolean> {
  const client = connectorClient(config);
  await client.connect();
  try {
    const found = await client.query<{ active_pid: number | null }>(
      "SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1",
      [slot],
    );
    const row = found.rows[0];
    if (row === undefined) return false;
    if (row.active_pid !== null) {
      await client.query("SELECT pg_terminate_backend($1)", [row.active_pid]);
    }
    await client.query("SELECT pg_drop_replication_slot($1)", [slot]);
    return true;
  } finally {
    await client.end();
  }
}
