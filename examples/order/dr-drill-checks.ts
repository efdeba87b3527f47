/** What the DR drills check and measure: sagas' ends, effects, a worker's API and metrics. */
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import { followSagaEvents, type AvroCodec, type KafkaSettings } from "sagastream";
import { serviceSchemas } from "./participants.js";

export const TERMINAL = new Set(["SagaCompleted", "SagaAborted", "SagaFailed", "SagaCancelled"]);
export const STATUS_OF_END: Record<string, string> = {
  SagaCompleted: "COMPLETED",
  SagaAborted: "ABORTED",
  SagaFailed: "FAILED",
  SagaCancelled: "CANCELLED",
};
export async function waitFor(what: string, timeoutMs: number, done: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

/** A metric's value on a worker's /metrics (undefined when it has none). */
export async function gauge(api: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${api}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/** Orders with any effect recorded twice in the participants' tables. */
export async function duplicateEffects(pool: pg.Pool, app: string): Promise<string[]> {
  const schemas = serviceSchemas(`${app}_`);
  const tables = [
    `${schemas.payment}.payments`,
    `${schemas.payment}.refunds`,
    `${schemas.inventory}.reservations`,
    `${schemas.inventory}.releases`,
    `${schemas.shipping}.shipments`,
  ];
  const twice: string[] = [];
  for (const table of tables) {
    const { rows } = await pool.query<{ order_id: string; n: string }>(
      `SELECT order_id, count(*) AS n FROM ${table} GROUP BY order_id HAVING count(*) > 1`,
    );
    twice.push(...rows.map((r) => `${table}: ${r.order_id} × ${r.n}`));
  }
  return twice;
}

/** Every saga's status as DR's worker answers it, against the end its log holds. */
export async function compareApi(
  api: string,
  ends: ReadonlyMap<string, { type: string }[]>,
): Promise<{ checked: number; differ: string[] }> {
  const differ: string[] = [];
  const answered = new Map<string, string>();
  for (const status of ["COMPLETED", "ABORTED", "FAILED", "CANCELLED", "RUNNING", "COMPENSATING"]) {
    const response = await fetch(`${api}/sagas?status=${status}&limit=10000`);
    if (!response.ok) throw new Error(`GET ${api}/sagas?status=${status}: HTTP ${response.status}`);
    const sagas = (await response.json()) as { sagaId: string }[];
    for (const s of sagas) answered.set(s.sagaId, status);
  }
  for (const [sagaId, list] of ends) {
    const expected = STATUS_OF_END[list.at(-1)?.type ?? ""] ?? "?";
    const said = answered.get(sagaId) ?? "missing";
    if (said !== expected) differ.push(`${sagaId}: API ${said}, log ${expected}`);
  }
  return { checked: ends.size, differ };
}

/** Each saga's terminal events in order, with their log time. */
export type SagaEnds = Map<string, { type: string; at: number }[]>;

/**
 * The application's saga ends as its log in `kafka` holds them (following its layout), from
 * the start; `onCompleted` hears each completion's log time.
 */
export async function followEnds(
  kafka: KafkaSettings,
  app: string,
  groupId: string,
  codec: AvroCodec,
  onCompleted: (at: number) => void = () => undefined,
): Promise<{ ends: SagaEnds; stop: () => Promise<void> }> {
  const ends: SagaEnds = new Map();
  const following = await followSagaEvents(
    kafka,
    { applicationId: app, groupId, codec },
    ({ record: { sagaId, event }, timestamp }) => {
      if (!TERMINAL.has(event.type)) return;
      const list = ends.get(sagaId) ?? [];
      list.push({ type: event.type, at: timestamp });
      ends.set(sagaId, list);
      if (event.type === "SagaCompleted") onCompleted(timestamp);
    },
  );
  return { ends, stop: () => following.stop() };
}

/** Of `ids`, those ended once, twice or more, and not at all. */
export function endedOnce(ids: readonly string[], ends: SagaEnds) {
  return {
    endedOnce: ids.filter((id) => ends.get(id)?.length === 1).length,
    endedTwice: ids.filter((id) => (ends.get(id)?.length ?? 0) > 1),
    notEnded: ids.filter((id) => !ends.has(id)),
  };
}
