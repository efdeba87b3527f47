/**
 * Avro values in the Confluent wire format, with schemas in the registry. Encoding uses the
 * registered (writer) schema; decoding reads the writer's schema by the id in the value and
 * resolves it to the reader's schema, so a reader on v2 decodes v1 records (schema evolution).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { COMPATIBILITY, SchemaType, type SchemaRegistry } from "@kafkajs/confluent-schema-registry";
import avro from "avsc";
import {
  DeserializationError,
  RegistryUnavailableError,
  SchemaIncompatibleError,
  SchemaUnknownError,
  SagastreamError,
  toError,
  type RecordOrigin,
} from "../errors/index.js";
import { fromWireFormat, toWireFormat } from "./wire-format.js";

export const Compatibility = {
  Backward: "BACKWARD",
  Forward: "FORWARD",
  Full: "FULL",
  None: "NONE",
} as const;
export type Compatibility = (typeof Compatibility)[keyof typeof Compatibility];

/** A subject's compatibility read while another process sets it: asked again this often. */
const CONFIG_RACE_ATTEMPTS = 5;
const CONFIG_RACE_DELAY_MS = 200;

export class AvroCodec {
  private readonly writers = new Map<number, avro.Type>();
  /** Per reader type (a resolver only works with the instance it was made for), by writer id. */
  private readonly resolvers = new WeakMap<avro.Type, Map<number, avro.Resolver>>();

  constructor(private readonly registry: SchemaRegistry) {}

  /** Registers `schema` under `subject` (BACKWARD by default) and returns its id. */
  async register(
    subject: string,
    schema: avro.Schema,
    compatibility: Compatibility = Compatibility.Backward,
  ): Promise<number> {
    try {
      const { id } = await this.registerOnce(subject, schema, compatibility);
      this.writers.set(id, avro.Type.forSchema(schema));
      return id;
    } catch (thrown) {
      const error = toError(thrown);
      const status = (thrown as { status?: number }).status;
      if (status === 409 || /incompatib/i.test(error.message)) {
        throw new SchemaIncompatibleError(subject, compatibility, error.message);
      }
      throw error;
    }
  }

  /**
   * Registers and sets the subject's compatibility. Two processes registering a new subject at
   * once (a new generation's workers and participants, generations.ts) race in the client: one
   * may read the subject's compatibility before the other has set it (the registry's default
   * then) and refuse; it is asked again once the other is done.
   */
  private async registerOnce(
    subject: string,
    schema: avro.Schema,
    compatibility: Compatibility,
  ): Promise<{ id: number }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.registry.register(
          { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
          { subject, compatibility: COMPATIBILITY[compatibility] },
        );
      } catch (thrown) {
        const raced = /does not match the configuration|rule named .* already exists/.test(
          toError(thrown).message,
        );
        if (!raced || attempt >= CONFIG_RACE_ATTEMPTS) throw thrown;
        await sleep(CONFIG_RACE_DELAY_MS * attempt);
      }
    }
  }

  /**
   * The writer schema of `schemaId`, from the registry the first time. The registry's 404 means
   * the id is unknown (the record can never be decoded here); any other failure (no answer, a
   * 5xx: the client reports a network error as a 400) means the registry is unavailable, and
   * the caller waits and asks again.
   */
  private async writer(schemaId: number, origin?: RecordOrigin): Promise<avro.Type> {
    let type = this.writers.get(schemaId);
    if (type === undefined) {
      try {
        type = (await this.registry.getSchema(schemaId)) as unknown as avro.Type;
      } catch (thrown) {
        if ((thrown as { status?: number }).status === 404) {
          throw new SchemaUnknownError(schemaId, origin);
        }
        throw new RegistryUnavailableError(schemaId, toError(thrown));
      }
      this.writers.set(schemaId, type);
    }
    return type;
  }

  async encode(schemaId: number, value: unknown): Promise<Buffer> {
    await this.writer(schemaId);
    return this.encodeSync(schemaId, value);
  }

  /** Encodes with a writer schema already known here (registered or prepared). */
  encodeSync(schemaId: number, value: unknown): Buffer {
    const writer = this.writers.get(schemaId);
    if (writer === undefined) throw new SchemaUnknownError(schemaId);
    return toWireFormat(schemaId, writer.toBuffer(value));
  }

  /** The full name of the record's writer schema (e.g. io.sagastream.saga.SagaDecision). */
  async writerName(bytes: Buffer, origin?: RecordOrigin): Promise<string | undefined> {
    return (await this.writer(fromWireFormat(bytes, origin).schemaId, origin)).name;
  }

  /** Fetches the writer schema `bytes` name, so that decodeSync can run. */
  async prepare(bytes: Buffer, origin?: RecordOrigin): Promise<void> {
    await this.writer(fromWireFormat(bytes, origin).schemaId, origin);
  }

  /** Decodes with the writer's schema, resolved to `reader` when given. */
  async decode<T>(bytes: Buffer, reader?: avro.Type, origin?: RecordOrigin): Promise<T> {
    await this.prepare(bytes, origin);
    return this.decodeSync(bytes, reader, origin) as T;
  }

  /** Decodes when the writer schema is known here (see prepare). */
  decodeSync(bytes: Buffer, reader?: avro.Type, origin?: RecordOrigin): unknown {
    const { schemaId, body } = fromWireFormat(bytes, origin);
    const writer = this.writers.get(schemaId);
    if (writer === undefined) throw new SchemaUnknownError(schemaId, origin);
    try {
      if (reader === undefined) return writer.fromBuffer(body) as unknown;
      let byWriter = this.resolvers.get(reader);
      if (byWriter === undefined) {
        byWriter = new Map();
        this.resolvers.set(reader, byWriter);
      }
      let resolver = byWriter.get(schemaId);
      if (resolver === undefined) {
        resolver = reader.createResolver(writer);
        byWriter.set(schemaId, resolver);
      }
      return reader.fromBuffer(body, resolver) as unknown;
    } catch (thrown) {
      if (thrown instanceof SagastreamError) throw thrown;
      const cause = new Error(
        `the body does not match schema ${schemaId}: ${toError(thrown).message}`,
      );
      // Without an origin the caller (a serde) knows where the bytes came from and says it.
      if (origin === undefined) throw cause;
      throw new DeserializationError(origin, cause);
    }
  }
}
