/** `sagastream replay <topic>`: a topic's records over a range, decoded, to a file or stdout. */
import { Command, Option } from "commander";
import { loadConfig } from "../config/index.js";
import { UsageError } from "../errors/index.js";
import {
  describePosition,
  parsePosition,
  replay,
  ReplayFormat,
  type ReplayProgress,
  type Undecodable,
} from "../ops/index.js";
import { AvroCodec, createSchemaRegistry } from "../schema/index.js";

interface ReplayFlags {
  from: string;
  to: string;
  partition?: string[];
  key?: string;
  type?: string[];
  header?: string[];
  format?: ReplayFormat;
  out?: string;
}

/** Undecodable records listed one by one up to this many; the rest are counted. */
const LISTED_UNDECODABLE = 1_000;

function headersOf(pairs: readonly string[] = []): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new UsageError(`--header ${pair}: write it as name=value`);
    headers[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return headers;
}

function partitionsOf(values: readonly string[] | undefined): number[] | undefined {
  return values?.map((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`--partition ${v}: a partition number`);
    return n;
  });
}

function formatOf(flags: ReplayFlags): ReplayFormat {
  if (flags.format !== undefined) return flags.format;
  if (flags.out?.endsWith(".parquet") === true) return ReplayFormat.Parquet;
  if (flags.out?.endsWith(".csv") === true) return ReplayFormat.Csv;
  return ReplayFormat.JsonLines;
}

function progressLine(p: ReplayProgress): string {
  const seconds = p.elapsedMs / 1000;
  const share =
    p.total > 0
      ? ` of ~${p.total.toLocaleString("en")} (${Math.floor((100 * p.read) / p.total)}%)`
      : "";
  return `read ${p.read.toLocaleString("en")}${share}, wrote ${p.written.toLocaleString("en")} rows, ${Math.round(p.read / Math.max(seconds, 0.001)).toLocaleString("en")} records/s`;
}

export function replayCommand(): Command {
  return new Command("replay")
    .description(
      "read a topic over a range (offsets or times), decoded through the registry, to JSON Lines, CSV or Parquet; joins no consumer group, reads committed data only",
    )
    .argument("<topic>", "e.g. shop.saga-events, shop.commands.payment, shop.dlq")
    .option("--from <position>", "offset, ISO time, duration ago (2h) or earliest", "earliest")
    .option("--to <position>", "offset, ISO time, duration ago or latest (exclusive)", "latest")
    .option("--partition <n...>", "only these partitions")
    .option("--key <key>", "only records with this key (for the engine's topics: a saga id)")
    .option("--saga <id>", "the same as --key <id>")
    .option("--type <type...>", "only these event/record types (e.g. SagaCompleted ChargePayment)")
    .option("--header <name=value...>", "only records with these header values")
    .addOption(
      new Option("--format <format>", "default: by --out's extension, else jsonl").choices(
        Object.values(ReplayFormat),
      ),
    )
    .option("--out <file>", "write here (default stdout; Parquet needs a file)")
    .action(async (topic: string, flags: ReplayFlags & { saga?: string }) => {
      const { connections } = loadConfig();
      const from = parsePosition(flags.from);
      const to = parsePosition(flags.to);
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const live = process.stderr.isTTY;
      let listed = 0;
      log(`replaying ${topic} from ${describePosition(from)} to ${describePosition(to)}`);
      const summary = await replay({
        kafka: { brokers: connections.kafkaBrokers, clientId: "sagastream-replay" },
        codec: new AvroCodec(createSchemaRegistry(connections.schemaRegistryUrl)),
        range: { topic, from, to, partitions: partitionsOf(flags.partition) },
        filter: {
          key: flags.key ?? flags.saga,
          types: flags.type,
          headers: headersOf(flags.header),
        },
        format: formatOf(flags),
        out: flags.out,
        onProgress: (p) => {
          // On a terminal one line kept up to date; in a log, a line every ten seconds.
          if (live) process.stderr.write(`\r${progressLine(p)}\u001b[K`);
          else if (Math.floor(p.elapsedMs / 1000) % 10 === 0) log(progressLine(p));
        },
        onUndecodable: (u: Undecodable) => {
          listed += 1;
          if (listed <= LISTED_UNDECODABLE) {
            log(`undecodable ${u.topic}/${u.partition}@${u.offset}: ${u.reason}`);
          }
        },
      });
      if (live) process.stderr.write("\r\u001b[K");
      const seconds = summary.tookMs / 1000;
      const { skipped } = summary;
      log(
        [
          `read ${summary.read} record(s) in ${seconds.toFixed(1)} s (${Math.round(summary.read / Math.max(seconds, 0.001))}/s) from ${summary.spans.length} partition(s)`,
          `wrote ${summary.written} row(s)${flags.out === undefined ? "" : ` to ${flags.out}`}`,
          `skipped: ${skipped.key} other key, ${skipped.header} other header, ${skipped.outsideTimes} stamped outside the times, ${skipped.type} row(s) of other types`,
          `undecodable: ${summary.undecodable}${summary.undecodable > LISTED_UNDECODABLE ? ` (the first ${LISTED_UNDECODABLE} listed above)` : ""}`,
        ].join("\n"),
      );
    });
}
