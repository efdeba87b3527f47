/** `sagastream capacity`: workers, partitions, storage and broker disk for a peak rate. */
import { Command } from "commander";
import { loadConfig } from "../config/index.js";
import { UsageError } from "../errors/index.js";
import {
  capacityRows,
  measuredThroughputFile,
  planCapacity,
  readMeasuredThroughput,
} from "../ops/index.js";
import { formatTable } from "../util/index.js";

interface CapacityFlags {
  peakTps: number;
  avgTps?: number;
  tpsPerWorker?: number;
  headroom?: number;
  bytesPerTx?: number;
  indexOverhead?: number;
  messagesPerTx?: number;
  messageBytes?: number;
  retentionDays?: number;
  replication?: number;
  json?: boolean;
}

/** A flag's value as a number; planCapacity says which values it takes. */
function number(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === "" || Number.isNaN(n))
      throw new UsageError(`${flag} takes a number (got "${value}")`);
    return n;
  };
}

/** The per-worker throughput: the flag's, else the saga benchmark's last recorded result. */
async function perWorker(flags: CapacityFlags): Promise<{ tps: number; source: string }> {
  if (flags.tpsPerWorker !== undefined)
    return { tps: flags.tpsPerWorker, source: "given with --tps-per-worker" };
  const { stateDir } = loadConfig();
  const measured = await readMeasuredThroughput(stateDir);
  if (measured === undefined)
    throw new UsageError(
      `no measured per-worker throughput (${measuredThroughputFile(stateDir)} does not exist): pass --tps-per-worker <n>, or run \`npm run bench -- saga\` first`,
    );
  const tps = Math.round(measured.sagasPerSecond);
  return {
    tps,
    source:
      `measured by \`npm run bench -- saga\` on ${measured.measuredAt.slice(0, 10)}: ` +
      `${tps.toLocaleString("en")} sagas/s per worker, ${measured.guarantee}; ${measured.measured}`,
  };
}

export function capacityCommand(): Command {
  return new Command("capacity")
    .description(
      "plan workers, partitions, storage and broker disk for a peak rate, from a measured per-worker throughput (the saga benchmark's, or --tps-per-worker)",
    )
    .requiredOption(
      "--peak-tps <n>",
      "transactions (sagas) per second at the peak",
      number("--peak-tps"),
    )
    .option(
      "--avg-tps <n>",
      "transactions per second on average (default: the peak)",
      number("--avg-tps"),
    )
    .option(
      "--tps-per-worker <n>",
      "sagas per second one worker sustains (default: the last `npm run bench -- saga`)",
      number("--tps-per-worker"),
    )
    .option(
      "--headroom <fraction>",
      "spare capacity above the peak (default 0.5 = 50 %)",
      number("--headroom"),
    )
    .option(
      "--bytes-per-tx <n>",
      "bytes stored per transaction (default 2000)",
      number("--bytes-per-tx"),
    )
    .option(
      "--index-overhead <x>",
      "stored bytes per data byte with indexes (default 1.5)",
      number("--index-overhead"),
    )
    .option(
      "--messages-per-tx <n>",
      "Kafka messages per transaction (default 6)",
      number("--messages-per-tx"),
    )
    .option(
      "--message-bytes <n>",
      "bytes per Kafka message (default 1000)",
      number("--message-bytes"),
    )
    .option(
      "--retention-days <n>",
      "days the topics keep a message (default 7)",
      number("--retention-days"),
    )
    .option("--replication <n>", "replicas of each partition (default 3)", number("--replication"))
    .option("--json", "print the plan as JSON")
    .action(async (flags: CapacityFlags) => {
      const worker = await perWorker(flags);
      const plan = planCapacity({
        peakTps: flags.peakTps,
        averageTps: flags.avgTps,
        tpsPerWorker: worker.tps,
        tpsPerWorkerSource: worker.source,
        headroom: flags.headroom,
        bytesPerTx: flags.bytesPerTx,
        indexOverhead: flags.indexOverhead,
        messagesPerTx: flags.messagesPerTx,
        messageBytes: flags.messageBytes,
        retentionDays: flags.retentionDays,
        replicationFactor: flags.replication,
      });
      if (flags.json === true) {
        process.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
        return;
      }
      const table = formatTable(["figure", "value", "formula"], capacityRows(plan));
      process.stdout.write(
        `${table.replace(/ +$/gm, "")}\n\nassumptions:\n` +
          plan.assumptions.map((line) => `- ${line}\n`).join(""),
      );
    });
}
