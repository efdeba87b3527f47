/** The Confluent-API schema registry client (works against Apicurio's ccompat path). */
import { SchemaRegistry, SchemaType } from "@kafkajs/confluent-schema-registry";

export { SchemaType };
export type { SchemaRegistry };

export function createSchemaRegistry(url: string): SchemaRegistry {
  return new SchemaRegistry({ host: url, retry: { retries: 3 } });
}
export { AvroCodec, Compatibility } from "./avro-codec.js";
export { avroSerde } from "./avro-serde.js";
export { toWireFormat, fromWireFormat, MAGIC_BYTE } from "./wire-format.js";
export {
  loadSchemaDirectory,
  registerSchemaFiles,
  subjectFor,
  type SchemaFile,
} from "./schema-directory.js";
