/** A single-node KRaft Kafka cluster (broker and controller in one process). */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { LOCAL_HOST } from "../../config/index.js";
import { ComponentFailedError } from "../../errors/index.js";
import { withAdmin } from "../../kafka/index.js";
import { javaLaunch, type Component, type StackContext } from "../component.js";
import { writeProperties, type Properties } from "../properties.js";

const run = promisify(execFile);

export interface BrokerSpec {
  name: "kafka" | "kafka-dr";
  port: "kafka" | "drKafka";
  controllerPort: "kafkaController" | "drKafkaController";
  disasterRecovery: boolean;
}

/** A KRaft cluster id: 16 random bytes, base64url, never starting with "-". */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

export function brokerProperties(
  dataDir: string,
  port: number,
  controllerPort: number,
): Properties {
  return {
    "process.roles": "broker,controller",
    "node.id": 1,
    "controller.quorum.voters": `1@${LOCAL_HOST}:${controllerPort}`,
    listeners: `PLAINTEXT://${LOCAL_HOST}:${port},CONTROLLER://${LOCAL_HOST}:${controllerPort}`,
    "advertised.listeners": `PLAINTEXT://${LOCAL_HOST}:${port}`,
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    "log.dirs": dataDir,
    // One broker: every internal topic has one replica (production uses 3 and min ISR 2).
    "offsets.topic.replication.factor": 1,
    "offsets.topic.num.partitions": 10,
    "transaction.state.log.replication.factor": 1,
    "transaction.state.log.min.isr": 1,
    "transaction.state.log.num.partitions": 10,
    // A dead worker's open transaction holds back read_committed readers (the participants)
    // until the broker aborts it: at its 10 s timeout, found by a sweep that runs every 10 s
    // by default, so up to 20 s. A 1 s sweep keeps it near the timeout.
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": 1000,
    "default.replication.factor": 1,
    "min.insync.replicas": 1,
    "num.partitions": 1,
    "group.initial.rebalance.delay.ms": 0,
    "auto.create.topics.enable": true,
    "log.retention.hours": 168,
    "log.segment.bytes": 64 * 1024 * 1024,
  };
}

/** A probe asks once and briefly: the stack retries it until the component is ready. */
export const PROBE = { connectTimeoutMs: 1000, requestTimeoutMs: 2000, retries: 0 } as const;

export function kafkaBroker(spec: BrokerSpec): Component {
  const dirs = (ctx: StackContext) => {
    const root = ctx.paths.componentDir(spec.name);
    return { root, data: path.join(root, "data"), props: path.join(root, "server.properties") };
  };
  return {
    name: spec.name,
    ports: [spec.port, spec.controllerPort],
    dependsOn: [],
    disasterRecovery: spec.disasterRecovery,
    readiness: "the broker to answer a metadata request",
    stopSignal: "SIGTERM",

    async prepare(ctx) {
      const d = dirs(ctx);
      await mkdir(d.data, { recursive: true });
      const props = brokerProperties(
        d.data,
        ctx.config.ports[spec.port],
        ctx.config.ports[spec.controllerPort],
      );
      await writeProperties(d.props, props, `${spec.name}: written by sagastream stack up`);
      if (existsSync(path.join(d.data, "meta.properties"))) return;
      const idFile = path.join(d.root, "cluster-id");
      const clusterId = existsSync(idFile)
        ? (await readFile(idFile, "utf8")).trim()
        : newClusterId();
      await writeFile(idFile, `${clusterId}\n`);
      try {
        const { command, args } = javaLaunch(ctx, {
          heap: "256m",
          mainClass: "kafka.tools.StorageTool",
          args: ["format", "-t", clusterId, "-c", d.props, "--ignore-formatted"],
        });
        await run(command, args);
      } catch (error) {
        throw new ComponentFailedError(
          spec.name,
          `storage could not be formatted: ${String(error)}`,
        );
      }
    },

    launchSpec(ctx) {
      return javaLaunch(ctx, { heap: "768m", mainClass: "kafka.Kafka", args: [dirs(ctx).props] });
    },

    async probe(ctx) {
      const settings = {
        brokers: [`${LOCAL_HOST}:${ctx.config.ports[spec.port]}`],
        clientId: "sagastream-stack-probe",
      };
      await withAdmin(
        settings,
        async (admin) => {
          const cluster = await admin.metadata({ topics: [] });
          if (cluster.brokers.size === 0) throw new Error("no broker registered yet");
        },
        PROBE,
      );
    },
  };
}
