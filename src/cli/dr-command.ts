/**
 * `sagastream dr`: disaster recovery — how far the DR cluster trails the primary and the RPO
 * now (`status`), an application failed over to the DR region (`failover`) and back to the
 * primary (`failback`).
 */
import { Command } from "commander";
import { loadConfig, type Config } from "../config/index.js";
import {
  drStatus,
  failback,
  failover,
  formatNumber,
  type DrStatus,
  type RegionEndpoint,
} from "../ops/index.js";
import { ConnectClient } from "../outbox/index.js";
import { DR_REGION, PRIMARY_REGION } from "../saga/index.js";
import { AvroCodec, createSchemaRegistry } from "../schema/index.js";
import {
  ComponentName,
  excludeFromMirror,
  PRIMARY_CONNECT_CONFIGS_TOPIC,
  Stack,
} from "../stack/index.js";
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

interface FailoverFlags {
  app: string;
  dryRun?: boolean;
}

function regions(config: Config): { primary: RegionEndpoint; dr: RegionEndpoint } {
  const { connections } = config;
  const security = connections.kafkaSecurity;
  return {
    primary: {
      name: PRIMARY_REGION,
      kafka: { brokers: connections.kafkaBrokers, clientId: "sagastream-dr", security },
      connect: new ConnectClient(connections.connectUrl, 5_000),
    },
    dr: {
      name: DR_REGION,
      kafka: { brokers: connections.drKafkaBrokers, clientId: "sagastream-dr", security },
      connect: new ConnectClient(connections.drConnectUrl),
    },
  };
}

/** The local stack's MirrorMaker 2, when it runs it: stopped so the primary cannot copy back in. */
function stackMirror(config: Config): ((fromReachable: boolean) => Promise<string>) | undefined {
  if (config.externalCluster) return undefined;
  return async (fromReachable) => {
    // With its source gone it has nothing left to copy (what it had fetched was written within
    // its linger), but a clean stop waits on the dead cluster: 8-13 s of a failover's 15.
    const stopped = await new Stack(config, () => undefined).down({
      only: ["mirror-maker"],
      graceMs: fromReachable ? 30_000 : 1_000,
    });
    return stopped.length > 0
      ? "MirrorMaker 2 of the local stack stopped: nothing is copied from the primary any more"
      : "MirrorMaker 2 of the local stack was not running";
  };
}

/** The local stack's MirrorMaker 2, when it runs it: started again with `exclude` left out. */
function stackMirrorRestart(
  config: Config,
): ((exclude: readonly string[]) => Promise<string>) | undefined {
  if (config.externalCluster) return undefined;
  return async (exclude) => {
    const stack = new Stack(config, () => undefined);
    await excludeFromMirror(stack.paths, exclude);
    await stack.down({ only: [ComponentName.MirrorMaker] });
    await stack.up({ dr: true, only: [ComponentName.MirrorMaker] });
    return `MirrorMaker 2 of the local stack copies from the primary again, leaving out ${exclude.length} topic(s) of the old generation`;
  };
}

export function drCommand(): Command {
  const dr = new Command("dr").description(
    "disaster recovery: how far DR trails the primary, and an application failed over to DR",
  );
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
  dr.addCommand(
    new Command("failover")
      .description(
        "run an application in the DR region: fence the primary where it answers, stop the mirror, set the groups' offsets, reconcile the mirrored changelog with the mirrored log, create the outbox connectors in DR, and name DR in the layout (its standing-by workers start); a rerun finishes an interrupted failover",
      )
      .requiredOption("--app <id>", "the application's id")
      .option("--dry-run", "say what each stage would do; change nothing")
      .action(async (flags: FailoverFlags) => {
        const config = loadConfig();
        const { primary, dr: target } = regions(config);
        const codec = new AvroCodec(createSchemaRegistry(config.connections.drSchemaRegistryUrl));
        await failover({
          applicationId: flags.app,
          from: primary,
          to: target,
          codec,
          stopMirror: stackMirror(config),
          mirroredConnectConfigs: PRIMARY_CONNECT_CONFIGS_TOPIC,
          dryRun: flags.dryRun === true,
          log: (line) => process.stdout.write(`${line}\n`),
        });
      }),
  );
  dr.addCommand(
    new Command("failback")
      .description(
        "run an application failed over to DR in the primary again, once the primary answers (its Kafka and Connect back, its workers standing by or stopped): fence the primary, copy DR's logs and unconsumed inputs into the next generation there (exactly once; sagas held still only for the rest), take the outbox connectors over, name the primary in both layouts, restart the mirror without the old generation; a rerun finishes an interrupted failback",
      )
      .requiredOption("--app <id>", "the application's id")
      .option("--dry-run", "say what each stage would do; change nothing")
      .action(async (flags: FailoverFlags) => {
        const config = loadConfig();
        const { primary, dr: source } = regions(config);
        await failback({
          applicationId: flags.app,
          from: source,
          to: primary,
          restartMirror: stackMirrorRestart(config),
          dryRun: flags.dryRun === true,
          log: (line) => process.stdout.write(`${line}\n`),
        });
      }),
  );
  return dr;
}
