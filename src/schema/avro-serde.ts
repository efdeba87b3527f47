/**
 * Avro in the Confluent wire format as a topology Serde. Serdes are synchronous, so the
 * registry is consulted ahead: the writer schema for encoding is registered at startup, and
 * `prepare` fetches (once) the writer schema of each value before it is decoded.
 */
import type avro from "avsc";
import type { Serde } from "../state/index.js";
import type { AvroCodec } from "./avro-codec.js";

export function avroSerde<T>(
  codec: AvroCodec,
  options: { schemaId?: number; reader?: avro.Type } = {},
): Serde<T> {
  return {
    serialize: (value) => {
      if (options.schemaId === undefined) {
        throw new Error("this Avro serde only decodes: give it the writer schema id to encode");
      }
      return codec.encodeSync(options.schemaId, value);
    },
    deserialize: (bytes) => codec.decodeSync(bytes, options.reader) as T,
    prepare: (bytes) => codec.prepare(bytes),
  };
}
