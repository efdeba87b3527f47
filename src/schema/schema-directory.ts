/**
 * The project's Avro schemas as files: `schemas/<topic>/<Record>.avsc`. The folder names the
 * topic the records are written to, so each file has one subject, `<topic>-<record full name>`
 * (Confluent's TopicRecordNameStrategy: several event types may share a topic, and the same
 * record may evolve differently on two topics).
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import avro from "avsc";
import { UsageError } from "../errors/index.js";
import type { AvroCodec, Compatibility } from "./avro-codec.js";

export interface SchemaFile {
  /** Path relative to the schema directory. */
  file: string;
  topic: string;
  /** The record's full name, `namespace.Name`. */
  fullName: string;
  subject: string;
  schema: avro.Schema;
}

export function subjectFor(topic: string, fullName: string): string {
  return `${topic}-${fullName}`;
}

/** Reads and checks every `.avsc` under `dir` (one folder level: the topic). */
export async function loadSchemaDirectory(dir: string): Promise<SchemaFile[]> {
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (error) {
    throw new UsageError(`cannot read the schema directory ${dir}: ${String(error)}`);
  }
  const files = entries
    .filter((e) => e.isFile() && e.name.endsWith(".avsc"))
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
  return Promise.all(files.map((file) => loadSchemaFile(dir, file)));
}

async function loadSchemaFile(dir: string, file: string): Promise<SchemaFile> {
  const parts = file.split(path.sep);
  const topic = parts[0];
  if (parts.length !== 2 || topic === undefined) {
    throw new UsageError(
      `${path.join(dir, file)}: put each schema in a folder named after its topic, ` +
        `e.g. ${path.join(dir, "outbox.event.order", path.basename(file))}`,
    );
  }
  let schema: avro.Schema;
  let type: avro.Type;
  try {
    schema = JSON.parse(await readFile(path.join(dir, file), "utf8")) as avro.Schema;
    type = avro.Type.forSchema(schema);
  } catch (error) {
    throw new UsageError(`${path.join(dir, file)} is not a valid Avro schema: ${String(error)}`);
  }
  if (!(type instanceof avro.types.RecordType) || type.name === undefined) {
    throw new UsageError(`${path.join(dir, file)}: the top-level schema must be a named record`);
  }
  return { file, topic, fullName: type.name, subject: subjectFor(topic, type.name), schema };
}

/** Registers each schema under its subject; returns the ids by subject. */
export async function registerSchemaFiles(
  codec: AvroCodec,
  files: readonly SchemaFile[],
  compatibility?: Compatibility,
): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (const file of files) {
    ids.set(file.subject, await codec.register(file.subject, file.schema, compatibility));
  }
  return ids;
}
