/** `sagastream scale advise`: scale up, hold or scale down, by the design's triggers. */
import { Command } from "commander";
import { loadConfig } from "../config/index.js";
import { UsageError } from "../errors/index.js";
import { withAdmin } from "../kafka/index.js";
import { ScalingMonitor, type ScalingReport } from "../ops/index.js";
import { sagaTopics } from "../saga/index.js";
import { formatTable } from "../util/index.js";
import { apiOption, call } from "./api-client.js";

interface AdviseFlags {
  api?: string;
  app?: string;
  topic: string[];
  json?: boolean;
}

/** One sample of the group from Kafka (no worker's history: no busy or sustained-low window). */
async function sampleFromKafka(app: string, inputs: string[]): Promise<ScalingReport> {
  const { connections } = loadConfig();
  const kafka = { brokers: connections.kafkaBrokers, clientId: "sagastream-scale" };
  const topics = sagaTopics(app);
  const named = [topics.replies, topics.control, ...inputs];
  const existing = new Set(await withAdmin(kafka, (admin) => admin.listTopics()));
  const missing = named.filter((t) => !existing.has(t));
  if (missing.length > 0) {
    throw new UsageError(
      `no topic ${missing.join(", ")} on the cluster: is "${app}" the application's id (and each --topic right)?`,
    );
  }
  const monitor = new ScalingMonitor({ kafka, groupId: app, topics: named });
  try {
    return await monitor.sample();
  } finally {
    await monitor.stop();
  }
}

function printReport({ advice, lag }: ScalingReport, fromKafka: boolean): void {
  const out = process.stdout;
  out.write(
    `${advice.action}: ${advice.reason} (${advice.workers} worker(s)${advice.desiredWorkers === advice.workers ? "" : ` → ${advice.desiredWorkers}`}, ${lag.partitionCount} partitions)\n`,
  );
  const waiting = lag.partitions.filter((p) => p.lag > 0).sort((a, b) => b.lag - a.lag);
  if (waiting.length > 0) {
    out.write(
      `\n${formatTable(
        ["topic", "partition", "lag", "oldest waiting"],
        waiting.map((p) => [
          p.topic,
          String(p.partition),
          p.lag.toLocaleString("en"),
          p.oldestAt === undefined ? "-" : `${Math.round((lag.at - p.oldestAt) / 1000)} s`,
        ]),
      )}\n`,
    );
  }
  if (fromKafka) {
    out.write(
      "\n(one sample read from Kafka: the busy and low-lag windows and the cooldowns need a worker's history, GET /scaling)\n",
    );
  }
}

export function scaleCommand(): Command {
  const scale = new Command("scale").description(
    "scaling signals for a worker group: lag, oldest unprocessed record, busy share, advice",
  );
  scale.addCommand(
    new Command("advise")
      .description(
        "scale up, hold or scale down, with the reason: a worker's advice (GET /scaling), or with --app one sample read from Kafka with no worker running",
      )
      .addOption(apiOption())
      .option("--app <id>", "read the group's lag from Kafka instead of asking a worker")
      .option(
        "--topic <topic...>",
        "with --app: start topics the group reads (the ones it has committed offsets on are found)",
        [],
      )
      .option("--json", "print the report as JSON")
      .action(async (flags: AdviseFlags) => {
        if (flags.app !== undefined && flags.api !== undefined) {
          throw new UsageError("--app reads Kafka and --api asks a worker: give one of them");
        }
        const report =
          flags.app === undefined
            ? await call<ScalingReport>(flags.api, "/scaling")
            : await sampleFromKafka(flags.app, flags.topic);
        if (flags.json === true) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else printReport(report, flags.app !== undefined);
      }),
  );
  return scale;
}
