/** `sagastream schemas list | register`: the Avro schemas in `schemas/<topic>/*.avsc`. */
import { Command, Option } from "commander";
import { loadConfig } from "../config/index.js";
import {
  AvroCodec,
  Compatibility,
  createSchemaRegistry,
  loadSchemaDirectory,
  registerSchemaFiles,
} from "../schema/index.js";

const dirOption = () =>
  new Option("--dir <dir>", "the schema directory, one folder per topic").default("schemas");

export function schemasCommand(): Command {
  const schemas = new Command("schemas").description(
    "the Avro schemas of the events, one folder per topic: schemas/<topic>/<Record>.avsc",
  );
  schemas
    .command("list")
    .description("check every schema file and print its subject (no registry needed)")
    .addOption(dirOption())
    .action(async (flags: { dir: string }) => {
      for (const file of await loadSchemaDirectory(flags.dir)) {
        process.stdout.write(`${file.file}\t${file.subject}\n`);
      }
    });
  schemas
    .command("register")
    .description("register every schema in SCHEMA_REGISTRY_URL under <topic>-<record full name>")
    .addOption(dirOption())
    .addOption(
      new Option("--compatibility <level>", "the subjects' compatibility level")
        .choices(Object.values(Compatibility))
        .default(Compatibility.Backward),
    )
    .action(async (flags: { dir: string; compatibility: Compatibility }) => {
      const { connections } = loadConfig();
      const files = await loadSchemaDirectory(flags.dir);
      const codec = new AvroCodec(createSchemaRegistry(connections.schemaRegistryUrl));
      const ids = await registerSchemaFiles(codec, files, flags.compatibility);
      for (const [subject, id] of ids) process.stdout.write(`${subject}\tid ${id}\n`);
      process.stdout.write(`${ids.size} schema(s) registered (${flags.compatibility})\n`);
    });
  return schemas;
}
