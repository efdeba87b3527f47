/** `sagastream rebuild`: every saga's state as of a time, from the log, into a scratch store. */
import { Command, Option } from "commander";
import { loadConfig } from "../config/index.js";
import { UsageError } from "../errors/index.js";
import { parseTime, rebuild, StoreSagas } from "../ops/index.js";
import { sagaTopics } from "../saga/index.js";
import { AvroCodec, createSchemaRegistry } from "../schema/index.js";

interface RebuildFlags {
  app?: string;
  topic?: string;
  asOf: string;
  into: string;
  format?: "parquet";
  out?: string;
}

export function rebuildCommand(): Command {
  return new Command("rebuild")
    .description(
      "fold the saga-events log up to a time into a scratch store (no commands, no side effects, no consumer group); query it with `saga list|get --store <dir>`",
    )
    .option("--app <id>", "the application id: reads <app>.saga-events")
    .option("--topic <topic>", "the saga-events topic itself")
    .option(
      "--as-of <time>",
      "ISO time, a duration ago (2h) or now; events stamped after it are left out",
      "now",
    )
    .requiredOption("--into <dir>", "a new directory for the store")
    .addOption(new Option("--format <format>", "also write one row per saga").choices(["parquet"]))
    .option("--out <file>", "where --format writes (default <into>/sagas.parquet)")
    .action(async (flags: RebuildFlags) => {
      const topic =
        flags.topic ?? (flags.app === undefined ? undefined : sagaTopics(flags.app).events);
      if (topic === undefined)
        throw new UsageError("name the application (--app <id>) or the topic (--topic)");
      const { connections } = loadConfig();
      const asOf = parseTime(flags.asOf);
      const log = (line: string) => process.stderr.write(`${line}\n`);
      log(`rebuilding ${topic} as of ${new Date(asOf).toISOString()} into ${flags.into}`);
      const summary = await rebuild({
        kafka: { brokers: connections.kafkaBrokers, clientId: "sagastream-rebuild" },
        codec: new AvroCodec(createSchemaRegistry(connections.schemaRegistryUrl)),
        topic,
        asOf,
        into: flags.into,
        onProgress: (read, sagas) => log(`read ${read} record(s), ${sagas} saga(s) so far`),
        onUndecodable: (u) => log(`undecodable ${u.topic}/${u.partition}@${u.offset}: ${u.reason}`),
      });
      log(
        `${summary.sagas} saga(s) from ${summary.events} event(s) in ${summary.records} record(s), ${summary.undecodable} undecodable, in ${(summary.tookMs / 1000).toFixed(1)} s`,
      );
      if (flags.format === "parquet") {
        const out = flags.out ?? `${flags.into}/sagas.parquet`;
        const store = await StoreSagas.open(flags.into);
        try {
          log(`${await store.toParquet(out)} row(s) written to ${out}`);
        } finally {
          await store.close();
        }
      }
    });
}
