/**
 * A record as rows for analysts: decoded through the registry with the schema it was written
 * with. A saga-events record (one decision) gives a row per event, with the event's number in
 * its saga; any other record gives one row. A record that cannot be decoded is an
 * UndecodableRecord saying why, never a silent drop.
 */
import { RegistryUnavailableError, SchemaUnknownError, WireFormatError } from "../errors/index.js";
import { eventsOf, sagaDecisionReader, SAGA_NAMESPACE } from "../saga/index.js";
import type { AvroCodec } from "../schema/index.js";
import type { CommittedRecord } from "../topology/index.js";

export interface ReplayRow {
  topic: string;
  partition: number;
  offset: string;
  /** ms since the epoch. */
  timestamp: number;
  key: string | null;
  /** A saga event's type; else the record's own `type` field (a command's); else its schema's name. */
  type: string;
  /** A saga event's number in its saga. */
  seq: number | null;
  /** The writer schema's full name. */
  schema: string | null;
  headers: Record<string, string>;
  value: unknown;
}

export class UndecodableRecord extends Error {}

const DECISION_SCHEMAS = new Set([
  `${SAGA_NAMESPACE}.SagaDecision`,
  `${SAGA_NAMESPACE}.SagaEventRecord`,
]);

function textHeaders(headers: Record<string, Buffer>): Record<string, string> {
  const text: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) text[name] = value.toString("utf8");
  return text;
}

/** A decoded Avro value made plain for JSON: bytes as base64, bigints as text. */
export function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v);
    return out;
  }
  return value;
}

function shortName(schema: string | undefined): string {
  return schema?.split(".").at(-1) ?? "record";
}

/** Decodes records of `topic` into rows. */
export function recordDecoder(codec: AvroCodec, topic: string) {
  const readDecision = sagaDecisionReader(codec);
  return async (partition: number, record: CommittedRecord): Promise<ReplayRow[]> => {
    const base = {
      topic,
      partition,
      offset: String(record.offset),
      timestamp: record.timestamp,
      key: record.key === null ? null : record.key.toString("utf8"),
      headers: textHeaders(record.headers),
    };
    const bytes = record.value;
    if (bytes === null) {
      return [{ ...base, type: "tombstone", seq: null, schema: null, value: null }];
    }
    let schema: string | undefined;
    try {
      schema = await codec.writerName(bytes);
      if (schema !== undefined && DECISION_SCHEMAS.has(schema)) {
        return eventsOf(await readDecision(bytes)).map(({ seq, event }) => ({
          ...base,
          type: event.type,
          seq,
          schema: schema ?? null,
          value: event,
        }));
      }
      const value = plain(await codec.decode<unknown>(bytes));
      const own = (value as { type?: unknown } | null)?.type;
      return [
        {
          ...base,
          type: typeof own === "string" ? own : shortName(schema),
          seq: null,
          schema: schema ?? null,
          value,
        },
      ];
    } catch (error) {
      if (error instanceof RegistryUnavailableError) throw error; // the replay cannot go on
      if (error instanceof WireFormatError) {
        throw new UndecodableRecord(`not in the registry's wire format (${error.message})`);
      }
      if (error instanceof SchemaUnknownError) {
        throw new UndecodableRecord(error.message);
      }
      throw new UndecodableRecord(
        `does not decode with its writer schema ${schema ?? "?"}: ${(error as Error).message}`,
      );
    }
  };
}
