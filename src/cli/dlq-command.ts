/**
 * `sagastream dlq list | show | redrive`: the dead letters of an application or a participant
 * (src/ops/dead-letters.ts), with the reason and origin of each and its record decoded where it
 * decodes, and re-driven to their origin topic once (unless forced).
 */
import { Command } from "commander";
import { loadConfig } from "../config/index.js";
import type { KafkaSettings } from "../kafka/index.js";
import {
  parseTime,
  decodeDeadLetter,
  readDeadLetters,
  redriveDeadLetters,
  type DeadLetter,
  type DeadLetterFilter,
} from "../ops/index.js";
import { AvroCodec, createSchemaRegistry } from "../schema/index.js";
import { formatTable } from "../util/index.js";
import { UsageError } from "../errors/index.js";

interface FilterFlags {
  origin?: string;
  code?: string;
  since?: string;
  until?: string;
  offset?: string[];
}

const TOPIC_HELP =
  "the dead-letter topic: <application id>.dlq, or a participant's <application id>.participant.<name>.dlq";

function withFilters(command: Command): Command {
  return command
    .argument("<topic>", TOPIC_HELP)
    .option("--origin <topic>", "only those from this origin topic")
    .option("--code <code>", "only those of this error code (e.g. DESERIALIZATION_FAILED)")
    .option("--since <time>", "only those dead-lettered since: ISO time or duration ago (2h)")
    .option("--until <time>", "only those dead-lettered before: ISO time or duration ago")
    .option("--offset <offset...>", "only these (an offset of partition 0, or partition:offset)");
}

function filterOf(flags: FilterFlags): DeadLetterFilter {
  return {
    origin: flags.origin,
    code: flags.code,
    since: flags.since === undefined ? undefined : parseTime(flags.since),
    until: flags.until === undefined ? undefined : parseTime(flags.until),
    offsets: flags.offset,
  };
}

function settings(): { kafka: KafkaSettings; codec: AvroCodec } {
  const { connections } = loadConfig();
  return {
    kafka: {
      brokers: connections.kafkaBrokers,
      clientId: "sagastream-dlq",
      security: connections.kafkaSecurity,
    },
    codec: new AvroCodec(createSchemaRegistry(connections.schemaRegistryUrl)),
  };
}

const place = (l: DeadLetter) => `${l.partition}:${l.offset}`;
const originText = (l: DeadLetter) =>
  l.origin === undefined ? "?" : `${l.origin.topic}/${l.origin.partition}@${l.origin.offset}`;

export function dlqCommand(): Command {
  const dlq = new Command("dlq").description(
    "dead letters: list them with reason and origin, show one decoded, re-drive them to their origin topic",
  );

  withFilters(dlq.command("list"))
    .description("the dead letters, oldest first, with why each failed and where it came from")
    .option("--json", "one JSON object per line, the record decoded where it decodes")
    .action(async (topic: string, flags: FilterFlags & { json?: boolean }) => {
      const { kafka, codec } = settings();
      const letters = await readDeadLetters(kafka, topic, filterOf(flags));
      if (flags.json === true) {
        for (const letter of letters) {
          const { record, ...rest } = letter;
          const what = await decodeDeadLetter(codec, letter);
          const value = what.decodes ? what.rows.map((r) => r.value) : undefined;
          process.stdout.write(
            `${JSON.stringify({ ...rest, key: record.key?.toString("utf8") ?? null, decodes: what.decodes, ...(what.decodes ? { value } : { undecodable: what.why }) })}\n`,
          );
        }
        return;
      }
      const rows: string[][] = [];
      for (const l of letters) {
        const what = await decodeDeadLetter(codec, l);
        rows.push([
          place(l),
          new Date(l.timestamp).toISOString(),
          originText(l),
          l.code ?? "?",
          (l.reason ?? "").slice(0, 80),
          what.decodes ? (what.rows[0]?.type ?? "") : `undecodable: ${what.why.slice(0, 40)}`,
          l.redriven === undefined ? "-" : new Date(l.redriven.at).toISOString(),
        ]);
      }
      process.stdout.write(
        `${formatTable(["at", "dead-lettered", "origin", "code", "reason", "record", "re-driven"], rows)}\n${letters.length} dead letter(s)\n`,
      );
    });

  dlq
    .command("show")
    .description("one dead letter in full: reason, origin, headers, key and its record decoded")
    .argument("<topic>", TOPIC_HELP)
    .argument("<offset>", "its offset (partition 0), or partition:offset")
    .action(async (topic: string, offset: string) => {
      const { kafka, codec } = settings();
      const [letter] = await readDeadLetters(kafka, topic, { offsets: [offset] });
      if (letter === undefined) {
        throw new UsageError(
          `${topic} has no dead letter at ${offset}: \`sagastream dlq list ${topic}\` lists them`,
        );
      }
      const what = await decodeDeadLetter(codec, letter);
      const { record } = letter;
      const shown = {
        at: place(letter),
        deadLetteredAt: new Date(letter.timestamp).toISOString(),
        origin: letter.origin,
        code: letter.code,
        reason: letter.reason,
        redriven: letter.redriven,
        key: record.key?.toString("utf8") ?? null,
        headers: Object.fromEntries(
          Object.entries(record.headers).map(([k, v]) => [k, v.toString("utf8")]),
        ),
        ...(what.decodes
          ? { value: what.rows.map((r) => ({ type: r.type, schema: r.schema, value: r.value })) }
          : {
              undecodable: what.why,
              valueBase64: record.value?.toString("base64") ?? null,
            }),
      };
      process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
    });

  withFilters(dlq.command("redrive"))
    .description(
      "send the selected dead letters back to their origin topic and partition, as they came (their dead-letter headers dropped, sagastream.redrive.from added); each once, unless --force",
    )
    .option("--force", "re-drive those re-driven before too")
    .option("--dry-run", "say what would be re-driven; send nothing")
    .action(async (topic: string, flags: FilterFlags & { force?: boolean; dryRun?: boolean }) => {
      const filter = filterOf(flags);
      const everything = Object.values(filter).every((v) => v === undefined);
      if (everything) {
        throw new UsageError(
          "say which dead letters to re-drive: --offset, --origin, --code, --since or --until (list them first with `sagastream dlq list`)",
        );
      }
      const { kafka } = settings();
      const letters = await readDeadLetters(kafka, topic, filter);
      const result = await redriveDeadLetters(kafka, topic, letters, {
        force: flags.force,
        dryRun: flags.dryRun,
      });
      const verb = flags.dryRun === true ? "would re-drive" : "re-drove";
      for (const l of result.redriven) {
        process.stdout.write(`${verb} ${place(l)} to ${originText(l)}\n`);
      }
      for (const l of result.refused) {
        process.stdout.write(
          `refused ${place(l)}: re-driven already at ${new Date(l.redriven?.at ?? 0).toISOString()} (--force to send it again)\n`,
        );
      }
      for (const l of result.unplaced) {
        process.stdout.write(`skipped ${place(l)}: it has no origin headers\n`);
      }
      process.stdout.write(
        `${verb} ${result.redriven.length}, refused ${result.refused.length}, skipped ${result.unplaced.length} of ${letters.length} selected\n`,
      );
      if (result.refused.length > 0 && result.redriven.length === 0) {
        throw new UsageError(
          "nothing re-driven: every one selected was re-driven before (--force)",
        );
      }
    });
  return dlq;
}
