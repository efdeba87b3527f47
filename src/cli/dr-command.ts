/** `sagastream dr`: disaster recovery — fail an application over to the DR region and back. */
import { Command } from "commander";
import { loadConfig, type Config } from "../config/index.js";
import { ConnectClient } from "../outbox/index.js";
import { failover, type RegionEndpoint } from "../ops/index.js";
import { DR_REGION, PRIMARY_REGION } from "../saga/index.js";
import { AvroCodec, createSchemaRegistry } from "../schema/index.js";
import { PRIMARY_CONNECT_CONFIGS_TOPIC, Stack } from "../stack/index.js";

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
function stackMirror(config: Config): (() => Promise<string>) | undefined {
  if (config.externalCluster) return undefined;
  return async () => {
    const stopped = await new Stack(config, () => undefined).down({ only: ["mirror-maker"] });
    return stopped.length > 0
      ? "MirrorMaker 2 of the local stack stopped: nothing is copied from the primary any more (dr failback starts it again)"
      : "MirrorMaker 2 of the local stack was not running";
  };
}

export function drCommand(): Command {
  const dr = new Command("dr").description(
    "disaster recovery: fail an application over to the DR region, and back",
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
        const job = await failover({
          applicationId: flags.app,
          from: primary,
          to: target,
          codec,
          stopMirror: stackMirror(config),
          mirroredConnectConfigs: PRIMARY_CONNECT_CONFIGS_TOPIC,
          dryRun: flags.dryRun === true,
          log: (line) => process.stdout.write(`${line}\n`),
        });
        if (flags.dryRun !== true) {
          process.stdout.write(`failover of ${job.applicationId}: stage ${job.stage}\n`);
        }
      }),
  );
  return dr;
}
