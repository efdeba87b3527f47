/**
 * How the engine's messages are encoded on their topics. On Kafka they are Avro in the
 * Confluent wire format (`avroSagaSerdes`, schemas in src/saga/avro-schemas.ts registered
 * under TopicRecordNameStrategy subjects); JSON serves the in-memory test driver.
 */
import avro from "avsc";
import { avroSerde, fromWireFormat, subjectFor, type AvroCodec } from "../schema/index.js";
import { Serdes, type Serde } from "../state/index.js";
import type { SagaEvent } from "./events.js";
import {
  sagaTopics,
  type SagaCommand,
  type SagaControl,
  type SagaDecision,
  type SagaReply,
} from "./messages.js";
import {
  legacySagaEventSchema,
  SAGA_NAMESPACE,
  sagaCommandSchema,
  sagaControlSchema,
  sagaDecisionSchema,
  sagaReplySchema,
} from "./avro-schemas.js";

export interface SagaSerdes {
  /** The saga-events log: one record per decision. */
  decision: Serde<SagaDecision>;
  reply: Serde<SagaReply>;
  control: Serde<SagaControl>;
  /** Commands to one participant: each command topic has its own subject. */
  command(participant: string): Serde<SagaCommand>;
}

export const jsonSagaSerdes: SagaSerdes = {
  decision: Serdes.json(),
  reply: Serdes.json(),
  control: Serdes.json(),
  command: () => Serdes.json(),
};

/**
 * Registers the engine's schemas for `applicationId`'s topics (idempotent: the same schema
 * keeps its id) and returns serdes that write them and read any compatible version.
 */
export async function avroSagaSerdes(
  codec: AvroCodec,
  applicationId: string,
  participants: readonly string[],
  generation = 0,
): Promise<SagaSerdes> {
  const topics = sagaTopics(applicationId, generation);
  const serde = async <T, A>(
    topic: string,
    schema: avro.Schema,
    toAvro: (value: T) => A,
    fromAvro: (value: A) => T,
  ): Promise<Serde<T>> => {
    const reader = avro.Type.forSchema(schema);
    const subject = subjectFor(topic, reader.name ?? "");
    const inner = avroSerde<A>(codec, { schemaId: await codec.register(subject, schema), reader });
    return {
      serialize: (value) => {
        const avroValue = toAvro(value);
        try {
          return inner.serialize(avroValue);
        } catch (error) {
          const invalid = invalidFields(reader, avroValue);
          if (invalid.length === 0) throw error;
          throw new Error(`cannot encode a ${reader.name} for ${topic}: ${invalid.join("; ")}`);
        }
      },
      deserialize: (bytes) => fromAvro(inner.deserialize(bytes)),
      prepare: (bytes) => codec.prepare(bytes),
    };
  };
  const commands = new Map<string, Serde<SagaCommand>>();
  for (const participant of participants) {
    commands.set(
      participant,
      await serde(topics.commands(participant), sagaCommandSchema, commandToAvro, commandFromAvro),
    );
  }
  return {
    decision: await serde(topics.events, sagaDecisionSchema, decisionToAvro, decisionFromAvro),
    reply: await serde(topics.replies, sagaReplySchema, (r: SagaReply) => r, plain),
    control: await serde(topics.control, sagaControlSchema, controlToAvro, controlFromAvro),
    command: (participant) => {
      const found = commands.get(participant);
      if (found === undefined) throw new Error(`no command schema for participant ${participant}`);
      return found;
    },
  };
}

/**
 * Reads saga-events records, registering nothing: for followers and analysts' tools. A record
 * written before decisions were batched (a `SagaEventRecord`, one event) reads as a decision
 * of one event.
 */
export function sagaDecisionReader(codec: AvroCodec): (bytes: Buffer) => Promise<SagaDecision> {
  const reader = avro.Type.forSchema(sagaDecisionSchema);
  const legacyReader = avro.Type.forSchema(legacySagaEventSchema);
  const legacy = new Map<number, boolean>(); // by writer schema id
  return async (bytes) => {
    const { schemaId } = fromWireFormat(bytes);
    let isLegacy = legacy.get(schemaId);
    if (isLegacy === undefined) {
      // Which record the writer wrote: its own decoding has `events` or `event`.
      isLegacy = !("events" in (await codec.decode<object>(bytes)));
      legacy.set(schemaId, isLegacy);
    }
    if (!isLegacy) return decisionFromAvro(await codec.decode<AvroDecision>(bytes, reader));
    const old = await codec.decode<AvroLegacyEvent>(bytes, legacyReader);
    return { sagaId: old.sagaId, firstSeq: old.seq, events: [eventFromAvro(old.event)] };
  };
}

/** Where `value` does not match `type`, as `path (value) is not a valid <type>`. */
function invalidFields(type: avro.Type, value: unknown): string[] {
  const invalid: string[] = [];
  type.isValid(value, {
    errorHook: (path, found, expected) => {
      invalid.push(
        `${path.join(".")} (${JSON.stringify(found)}) is not a valid ${expected.typeName}`,
      );
    },
  });
  return invalid;
}

/** avsc decodes records as class instances; the engine deals in plain objects. */
function plain<T extends object>(value: T): T {
  return { ...value };
}

type AvroCommand = Omit<SagaCommand, "payload"> & { payload: string };

function commandToAvro(command: SagaCommand): AvroCommand {
  return { ...command, payload: JSON.stringify(command.payload) };
}

function commandFromAvro(value: AvroCommand): SagaCommand {
  return {
    ...plain<AvroCommand>(value),
    payload: JSON.parse(value.payload) as SagaCommand["payload"],
  };
}

type AvroControl = { type: SagaControl["type"]; reason: string };

function controlToAvro(control: SagaControl): AvroControl {
  return { type: control.type, reason: control.type === "Cancel" ? control.reason : "" };
}

function controlFromAvro(value: AvroControl): SagaControl {
  return value.type === "Cancel" ? { type: "Cancel", reason: value.reason } : { type: "Retry" };
}

/** The union's branches are wrapped: `{ "io.sagastream.saga.<type>": fields }`. */
type AvroEvent = Record<string, object>;
type AvroDecision = { sagaId: string; firstSeq: number; events: AvroEvent[] };
type AvroLegacyEvent = { sagaId: string; seq: number; event: AvroEvent };

function eventToAvro(event: SagaEvent): AvroEvent {
  const { type, ...fields } = event;
  const avroFields: Record<string, unknown> = { ...fields };
  if ("data" in fields) avroFields["data"] = JSON.stringify(fields.data ?? null);
  if ("command" in fields) avroFields["command"] = commandToAvro(fields.command as SagaCommand);
  return { [`${SAGA_NAMESPACE}.${type}`]: avroFields };
}

function eventFromAvro(value: AvroEvent): SagaEvent {
  const [branch, fields] = Object.entries(value)[0] ?? [];
  if (branch === undefined || fields === undefined) throw new Error("a saga event without a type");
  const event: Record<string, unknown> = {
    type: branch.slice(SAGA_NAMESPACE.length + 1),
    ...fields,
  };
  if (typeof event["data"] === "string") event["data"] = JSON.parse(event["data"]) as unknown;
  if (event["fingerprint"] === "") delete event["fingerprint"]; // recorded before fingerprints
  if (event["command"] !== undefined) {
    event["command"] = commandFromAvro(event["command"] as AvroCommand);
  }
  return event as SagaEvent;
}

function decisionToAvro(decision: SagaDecision): AvroDecision {
  return {
    sagaId: decision.sagaId,
    firstSeq: decision.firstSeq,
    events: decision.events.map(eventToAvro),
  };
}

function decisionFromAvro(value: AvroDecision): SagaDecision {
  return {
    sagaId: value.sagaId,
    firstSeq: value.firstSeq,
    events: value.events.map(eventFromAvro),
  };
}
