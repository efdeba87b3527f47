/** `sagastream dr status`: how far the DR cluster trails the primary, and the RPO now. */
import { Command } from "commander";
import { loadConfig } from "../config/index.js";
import { drStatus, formatNumber, type DrStatus } from "../ops/index.js";
import { formatTable } from "../util/index.js";

interface StatusFlags {
  app?: string;
  json?: boolean;
}

const seconds = (s: number | undefined) => (s === undefined ? "-" : `${s.toFixed(1)} s`);
const count = (n: number | undefined) => (n === undefined ? "-" : formatNumber(n));

export function formatDrStatus(status: DrStatus): string {
  const lines: string[] = [];
  // The primary lost: no lag, but how old DR's newest record is.
  const drOnly = !status.primary.reachable;
  const rows = status.partitions.map((p) => [
    p.topic,
    String(p.partition),
    count(p.primaryEnd),
    p.drEnd === undefined ? "not on DR" : formatNumber(p.drEnd),
    p.gap === undefined ? "-" : `${p.gap.atLeast ? "≥ " : ""}${formatNumber(p.gap.unmirrored)}`,
    drOnly
      ? seconds(p.drLastAt === undefined ? undefined : (status.at - p.drLastAt) / 1000)
      : seconds(p.gap?.lagSeconds),
  ]);
  const header = ["topic", "partition", "primary end", "DR end", "unmirrored"];
  lines.push(
    rows.length === 0
      ? "no mirrored topic found"
      : formatTable([...header, drOnly ? "DR newest record age" : "lag s"], rows),
  );
  lines.push("");
  lines.push(
    status.groups.length === 0
      ? "no consumer group checkpointed on DR"
      : formatTable(
          ["group", "checkpointed partitions", "checkpoint age", "behind primary (offsets)"],
          status.groups.map((g) => [
            g.group,
            String(g.partitions),
            g.newestAt === undefined ? "no checkpoint" : seconds(g.ageSeconds),
            count(g.behindOffsets),
          ]),
        ),
  );
  for (const note of status.notes) lines.push(`note: ${note}`);
  const { rpo } = status;
  lines.push(
    rpo === undefined
      ? "RPO if the primary were lost now: unknown (the primary did not answer)"
      : `RPO if the primary were lost now: ${rpo.atLeast ? "at least " : ""}${formatNumber(rpo.records)} record(s), ${rpo.seconds.toFixed(1)} s`,
  );
  return lines.join("\n");
}

export function drCommand(): Command {
  const dr = new Command("dr").description("disaster recovery: the DR cluster MirrorMaker 2 fills");
  dr.addCommand(
    new Command("status")
      .description(
        "replication lag per topic and partition (records, seconds), each consumer group's checkpoint age on DR, and the RPO if the primary were lost now",
      )
      .option("--app <id>", "only this application's topics and consumer groups")
      .option("--json", "print the status as JSON")
      .action(async (flags: StatusFlags) => {
        const { connections } = loadConfig();
        const security = connections.kafkaSecurity;
        const status = await drStatus({
          primary: { brokers: connections.kafkaBrokers, clientId: "sagastream-dr", security },
          dr: { brokers: connections.drKafkaBrokers, clientId: "sagastream-dr", security },
          applicationId: flags.app,
        });
        process.stdout.write(
          flags.json === true
            ? `${JSON.stringify(status, null, 2)}\n`
            : `${formatDrStatus(status)}\n`,
        );
      }),
  );
  return dr;
}
