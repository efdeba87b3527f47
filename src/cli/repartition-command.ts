/** `sagastream repartition`: move a live application to another partition count (--plan: what it would do). */
import { Command } from "commander";
import { loadConfig } from "../config/index.js";
import { UsageError, VerificationError } from "../errors/index.js";
import { ConnectClient } from "../outbox/index.js";
import {
  formatRepartitionPlan,
  planRepartition,
  repartition,
  REPARTITION_DEFAULTS,
  verifyRepartition,
  type KeyCountProgress,
  type VerifyReport,
} from "../ops/index.js";
import { AvroCodec, createSchemaRegistry } from "../schema/index.js";
import { formatTable } from "../util/index.js";

interface RepartitionFlags {
  app: string;
  partitions?: number;
  plan?: boolean;
  verify?: boolean;
  json?: boolean;
  copyRate?: number;
  topic: string[];
}

/** Topics with at least this many records get progress lines while their keys are counted. */
const BIG_TOPIC = 100_000;
/** At most one progress line per topic this often. */
const PROGRESS_INTERVAL_MS = 2_000;

function number(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === "" || Number.isNaN(n)) {
      throw new UsageError(`${flag} takes a number (got "${value}")`);
    }
    return n;
  };
}

/** Progress lines on stderr while the keys of a big topic are counted. */
function progressPrinter(): (p: KeyCountProgress) => void {
  let last = 0;
  return (p) => {
    if (p.total < BIG_TOPIC) return;
    const now = Date.now();
    if (!p.done && now - last < PROGRESS_INTERVAL_MS) return;
    last = now;
    const share = p.total > 0 ? ` (${Math.min(100, Math.floor((100 * p.read) / p.total))}%)` : "";
    process.stderr.write(
      `counting keys of ${p.topic}: ${p.read.toLocaleString("en")} of ~${p.total.toLocaleString("en")} records read${share}${p.done ? ", done" : ""}\n`,
    );
  };
}

class VerifyFailedError extends VerificationError {
  constructor(app: string) {
    super(`the new generation of ${app} differs from the old: see the keys and sagas listed`);
  }
}

function formatVerifyReport(report: VerifyReport): string {
  const rows = report.topics.map((t) => [
    t.topic,
    t.newTopic,
    t.keys.toLocaleString("en"),
    t.records.toLocaleString("en"),
    t.differ.length === 0 && t.misplaced.length === 0
      ? "same"
      : [
          ...t.differ.map((k) => `differs: ${k}`),
          ...t.misplaced.map((k) => `misplaced: ${k}`),
        ].join(", "),
  ]);
  const { sagas } = report;
  return (
    `${formatTable(["topic", "new topic", "keys", "records", "old vs new, per key"], rows)}\n\n` +
    `saga states: ${sagas.checked.toLocaleString("en")} checked, ${sagas.differ.length === 0 ? "all equal" : `differ: ${sagas.differ.join(", ")}`}\n` +
    `${report.ok ? "verified" : "NOT verified"}\n`
  );
}

export function repartitionCommand(): Command {
  return new Command("repartition")
    .description(
      "move a live application to another partition count with its state, by a new generation of its topics; --plan says what it would do and changes nothing",
    )
    .requiredOption("--app <id>", "the application's id (e.g. shop)")
    .option("--partitions <n>", "the new partition count", number("--partitions"))
    .option("--plan", "read the topics and print the plan: topics, key skew, stages, estimates")
    .option(
      "--verify",
      "after a move: each key's records and each saga's state in the new generation against the old",
    )
    .option("--json", "print the plan as JSON")
    .option(
      "--copy-rate <records/s>",
      `the copy's rate for the estimates (default ${REPARTITION_DEFAULTS.copyRecordsPerSecond.toLocaleString("en")}, an assumption)`,
      number("--copy-rate"),
    )
    .option(
      "--topic <start topic...>",
      "start topics the workers read (the ones their group has committed offsets on are found)",
      [],
    )
    .action(async (flags: RepartitionFlags) => {
      const { connections } = loadConfig();
      const kafka = { brokers: connections.kafkaBrokers, clientId: "sagastream-repartition" };
      if (flags.verify === true) {
        const report = await verifyRepartition({
          kafka,
          codec: new AvroCodec(createSchemaRegistry(connections.schemaRegistryUrl)),
          applicationId: flags.app,
        });
        process.stdout.write(
          flags.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatVerifyReport(report),
        );
        if (!report.ok) throw new VerifyFailedError(flags.app);
        return;
      }
      const partitions = flags.partitions;
      if (partitions === undefined) {
        throw new UsageError("give the new partition count: --partitions <n>");
      }
      if (flags.plan !== true) {
        const started = Date.now();
        const job = await repartition({
          kafka,
          connect: new ConnectClient(connections.connectUrl),
          applicationId: flags.app,
          partitions,
          startTopics: flags.topic,
          log: (line) => process.stderr.write(`${line}\n`),
        });
        const unavailable =
          job.frozenAt === undefined || job.switchedAt === undefined
            ? ""
            : `, sagas held still for ${((job.switchedAt - job.frozenAt) / 1000).toFixed(1)} s (frozen → live)`;
        process.stdout.write(
          `${flags.app} runs on ${job.to.partitions} partitions (generation ${job.to.generation}); the move took ${((Date.now() - started) / 1000).toFixed(1)} s${unavailable}\n`,
        );
        return;
      }
      const plan = await planRepartition({
        kafka,
        applicationId: flags.app,
        partitions,
        startTopics: flags.topic,
        copyRecordsPerSecond: flags.copyRate,
        onProgress: progressPrinter(),
      });
      process.stdout.write(
        flags.json === true ? `${JSON.stringify(plan, null, 2)}\n` : formatRepartitionPlan(plan),
      );
    });
}
