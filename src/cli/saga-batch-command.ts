/**
 * `sagastream saga batch retry|cancel`: act on every saga matching a filter, through a
 * worker's `POST /batch/retry|cancel`. It counts first (a dry run), says how many match, then
 * acts unless `--dry-run`, and prints each worker's part.
 */
import { Command, Option } from "commander";
import { UsageError } from "../errors/index.js";
import { formatTable } from "../util/index.js";
import { parseTime } from "../ops/index.js";
import { apiOption, callForStatus } from "./api-client.js";

interface WorkerPart {
  address: string;
  served: number[];
  matched: number;
  requested: number;
  sample: string[];
}

interface BatchReport {
  matched: number;
  requested: number;
  missing: number[];
  failed: { address: string; error: string }[];
  workers: WorkerPart[];
  tookMs: number;
}

interface BatchFlags {
  status?: string[];
  type?: string;
  version?: string;
  startedAfter?: string;
  startedBefore?: string;
  reason?: string;
  all?: boolean;
  dryRun?: boolean;
  api?: string;
}

/** An ISO time or a duration ago, as the ISO time the API takes. */
function isoTime(value: string): string {
  return new Date(parseTime(value)).toISOString();
}

function filterOf(flags: BatchFlags): Record<string, unknown> {
  const filter: Record<string, unknown> = {};
  if (flags.status !== undefined) filter["status"] = flags.status;
  if (flags.type !== undefined) filter["type"] = flags.type;
  if (flags.version !== undefined) {
    const version = Number(flags.version);
    if (!Number.isInteger(version) || version < 1) {
      throw new UsageError("--version must be a whole number ≥ 1");
    }
    filter["version"] = version;
  }
  if (flags.startedAfter !== undefined) filter["startedAfter"] = isoTime(flags.startedAfter);
  if (flags.startedBefore !== undefined) filter["startedBefore"] = isoTime(flags.startedBefore);
  return filter;
}

function printReport(report: BatchReport): void {
  const rows = report.workers.map((w) => [
    w.address,
    w.served.join(","),
    String(w.matched),
    String(w.requested),
  ]);
  for (const f of report.failed) rows.push([f.address, "-", "-", `failed: ${f.error}`]);
  process.stdout.write(`${formatTable(["worker", "partitions", "matched", "requested"], rows)}\n`);
}

async function runBatch(action: "retry" | "cancel", flags: BatchFlags): Promise<void> {
  const filter = filterOf(flags);
  const body = {
    filter,
    all: flags.all === true,
    ...(flags.reason === undefined ? {} : { reason: flags.reason }),
  };
  const path = `/batch/${action}`;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log("counting the sagas that match…");
  const counted = await callForStatus(flags.api, path, { ...body, dryRun: true });
  if (counted.status !== 200) {
    throw new UsageError(counted.answer.error ?? `the count was incomplete (${counted.status})`);
  }
  const count = counted.answer as BatchReport;
  const { matched } = count;
  const sample = count.workers.flatMap((w) => w.sample).slice(0, 5);
  log(`${matched} saga(s) match${sample.length > 0 ? ` (e.g. ${sample.join(", ")})` : ""}`);
  if (flags.dryRun === true || matched === 0) {
    printReport(count);
    process.stdout.write(`dry run: ${matched} saga(s) would get a ${action}\n`);
    return;
  }
  log(`requesting a ${action} of each…`);
  const done = await callForStatus(flags.api, path, body);
  if (!("workers" in done.answer)) {
    throw new UsageError(done.answer.error ?? `the API answered ${done.status}`);
  }
  const report = done.answer as BatchReport;
  printReport(report);
  process.stdout.write(
    `${report.requested} ${action} request(s) sent in ${(report.tookMs / 1000).toFixed(1)} s; ` +
      `each saga's owner applies its own in order (follow with \`sagastream saga list\`)\n`,
  );
  if (report.missing.length > 0) {
    throw new UsageError(
      `partition(s) ${report.missing.join(", ")} were not reached (a worker failed or the group rebalanced): run the same command again to finish`,
    );
  }
}

export function batchCommand(): Command {
  const batch = new Command("batch").description(
    "retry or cancel every saga matching a filter, on every worker (counts first)",
  );
  for (const action of ["retry", "cancel"] as const) {
    const command = batch
      .command(action)
      .description(
        action === "retry"
          ? "resume every matching FAILED saga from the step that failed"
          : "compensate every matching RUNNING (or FAILED) saga and end it CANCELLED",
      )
      .addOption(
        new Option("--status <status...>", "only these statuses").choices(
          action === "retry" ? ["FAILED"] : ["RUNNING", "FAILED"],
        ),
      )
      .option("--type <type>", "only this saga type")
      .option("--version <n>", "only this definition version")
      .option("--started-after <time>", "started at or after: ISO time or a duration ago (2h)")
      .option("--started-before <time>", "started before: ISO time or a duration ago (30m)")
      .option("--all", "with no filter: every saga the action applies to")
      .option("--dry-run", "only count and show a sample")
      .addOption(apiOption());
    if (action === "cancel") command.option("--reason <text>", "why (kept in each saga)");
    command.action((flags: BatchFlags) => runBatch(action, flags));
  }
  return batch;
}
