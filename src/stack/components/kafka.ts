/**
 * A KRaft Kafka cluster of one to five nodes, each broker and controller in one process: the
 * primary cluster runs `stack up --brokers` nodes (default 1), the DR cluster one.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import {
  brokerPorts,
  LOCAL_HOST,
  portKey,
  type Config,
  type StackPorts,
} from "../../config/index.js";
import { ComponentFailedError } from "../../errors/index.js";
import { withAdmin } from "../../kafka/index.js";
import {
  javaLaunch,
  stackClientSecurity,
  type Component,
  type ComponentName,
  type StackContext,
} from "../component.js";
import { writeProperties, type Properties } from "../properties.js";
import { BROKER_USER, redactSecrets, type StackSecurity } from "../security.js";

const run = promisify(execFile);

export interface BrokerSpec {
  /** `kafka`, `kafka-2` ... for the primary cluster's nodes, `kafka-dr` for the DR one. */
  name: ComponentName;
  /** The cluster's first node's ports; node n listens two above node n-1. */
  port: "kafka" | "drKafka";
  controllerPort: "kafkaController" | "drKafkaController";
  disasterRecovery: boolean;
  /** This node's id (1-based) and the cluster's size. */
  node: number;
  nodes: number;
}

/** The component name of the primary cluster's node `node`: `kafka`, `kafka-2`, ... */
export function primaryBrokerName(node: number): ComponentName {
  return node === 1 ? "kafka" : `kafka-${node}`;
}

/** The ports of a cluster's nodes, as `brokerPorts` lays them out from its first node's. */
function clusterPorts(ports: StackPorts, spec: BrokerSpec, node: number) {
  const first = { ...ports, kafka: ports[spec.port], kafkaController: ports[spec.controllerPort] };
  return brokerPorts(first, node);
}

/** A KRaft cluster id: 16 random bytes, base64url, never starting with "-". */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

/**
 * The listener for clients and between brokers of a `--secure` stack: SASL_SSL with
 * SCRAM-SHA-512 (users in the cluster's metadata, added when the storage is formatted) and
 * PLAIN (users in the listener's JAAS); the brokers log in to each other with PLAIN as BROKER_USER.
 */
function secureListener(s: StackSecurity): Properties {
  const plainUsers = `user_${BROKER_USER}="${s.brokerPassword}" user_${s.username}="${s.password}"`;
  return {
    "sasl.enabled.mechanisms": "SCRAM-SHA-512,PLAIN",
    "sasl.mechanism.inter.broker.protocol": "PLAIN",
    "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config":
      "org.apache.kafka.common.security.scram.ScramLoginModule required;",
    "listener.name.sasl_ssl.plain.sasl.jaas.config":
      "org.apache.kafka.common.security.plain.PlainLoginModule required " +
      `username="${BROKER_USER}" password="${s.brokerPassword}" ${plainUsers};`,
    "ssl.keystore.type": "PKCS12",
    "ssl.keystore.location": s.keystoreFile,
    "ssl.keystore.password": s.keystorePassword,
    "ssl.truststore.type": "PEM",
    "ssl.truststore.location": s.caFile,
    "ssl.client.auth": "none",
  };
}

/**
 * One node's configuration. `controllerPorts` lists every node's controller port (node 1
 * first): each node is a voter of the quorum. With `security` its client listener is
 * SASL_SSL (the controller listener stays PLAINTEXT on 127.0.0.1).
 */
export function brokerProperties(
  dataDir: string,
  node: number,
  port: number,
  controllerPorts: readonly number[],
  security?: StackSecurity,
): Properties {
  const controllerPort = controllerPorts[node - 1] ?? 0;
  const nodes = controllerPorts.length;
  // The seed's durability (replication factor 3, min in-sync replicas 2) where there are
  // enough brokers; one replica on a single node.
  const replicas = Math.min(3, nodes);
  const minInSync = Math.min(2, nodes);
  const listener = security === undefined ? "PLAINTEXT" : "SASL_SSL";
  return {
    "process.roles": "broker,controller",
    "node.id": node,
    "controller.quorum.voters": controllerPorts
      .map((p, i) => `${i + 1}@${LOCAL_HOST}:${p}`)
      .join(","),
    listeners: `${listener}://${LOCAL_HOST}:${port},CONTROLLER://${LOCAL_HOST}:${controllerPort}`,
    "advertised.listeners": `${listener}://${LOCAL_HOST}:${port}`,
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": listener,
    "listener.security.protocol.map": `CONTROLLER:PLAINTEXT,${listener}:${listener}`,
    ...(security === undefined ? {} : secureListener(security)),
    "log.dirs": dataDir,
    "offsets.topic.replication.factor": replicas,
    "offsets.topic.num.partitions": 10,
    "transaction.state.log.replication.factor": replicas,
    "transaction.state.log.min.isr": minInSync,
    "transaction.state.log.num.partitions": 10,
    // A dead worker's open transaction holds back read_committed readers (the participants)
    // until the broker aborts it: at its 10 s timeout, found by a sweep that runs every 10 s
    // by default, so up to 20 s. A 1 s sweep keeps it near the timeout.
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": 1000,
    "default.replication.factor": replicas,
    "min.insync.replicas": minInSync,
    "num.partitions": 1,
    "group.initial.rebalance.delay.ms": 0,
    "auto.create.topics.enable": true,
    "log.retention.hours": 168,
    "log.segment.bytes": 64 * 1024 * 1024,
  };
}

/** A probe asks once and briefly: the stack retries it until the component is ready. */
export const PROBE = { connectTimeoutMs: 1000, requestTimeoutMs: 2000, retries: 0 } as const;

/**
 * The cluster id its nodes are formatted with, kept beside its first node: made once, read by
 * every node (synchronously, so nodes prepared at once never make two).
 */
function clusterIdOf(ctx: StackContext, spec: BrokerSpec): string {
  const firstNode = spec.disasterRecovery ? spec.name : primaryBrokerName(1);
  const file = path.join(ctx.paths.componentDir(firstNode), "cluster-id");
  if (!existsSync(file)) writeFileSync(file, `${newClusterId()}\n`, { flag: "wx" });
  return readFileSync(file, "utf8").trim();
}

export function kafkaBroker(spec: BrokerSpec): Component {
  const dirs = (ctx: StackContext) => {
    const root = ctx.paths.componentDir(spec.name);
    return { root, data: path.join(root, "data"), props: path.join(root, "server.properties") };
  };
  const ports = (config: Config) => clusterPorts(config.ports, spec, spec.node);
  return {
    name: spec.name,
    ports: (config) => [
      { port: ports(config).port, key: portKey(spec.port) },
      { port: ports(config).controller, key: portKey(spec.controllerPort) },
    ],
    dependsOn: [],
    disasterRecovery: spec.disasterRecovery,
    readiness:
      spec.nodes === 1
        ? "the broker to answer a metadata request"
        : `broker ${spec.node} to join the cluster of ${spec.nodes}`,
    stopSignal: "SIGTERM",

    async prepare(ctx) {
      const d = dirs(ctx);
      await mkdir(d.data, { recursive: true });
      const controllerPorts = Array.from(
        { length: spec.nodes },
        (_, i) => clusterPorts(ctx.config.ports, spec, i + 1).controller,
      );
      const { security } = ctx;
      const props = brokerProperties(
        d.data,
        spec.node,
        ports(ctx.config).port,
        controllerPorts,
        security,
      );
      await writeProperties(d.props, props, `${spec.name}: written by sagastream stack up`, {
        secret: security !== undefined,
      });
      if (existsSync(path.join(d.data, "meta.properties"))) return;
      // The clients' SCRAM-SHA-512 user goes into the cluster's first metadata.
      const scram =
        security === undefined
          ? []
          : [
              "--add-scram",
              `SCRAM-SHA-512=[name=${security.username},password=${security.password}]`,
            ];
      try {
        const { command, args } = javaLaunch(ctx, {
          heap: "256m",
          mainClass: "kafka.tools.StorageTool",
          args: [
            "format",
            "-t",
            clusterIdOf(ctx, spec),
            "-c",
            d.props,
            "--ignore-formatted",
            ...scram,
          ],
        });
        await run(command, args);
      } catch (error) {
        throw new ComponentFailedError(
          spec.name,
          `storage could not be formatted: ${redactSecrets(String(error), ctx.security)}`,
        );
      }
    },

    launchSpec(ctx) {
      return javaLaunch(ctx, { heap: "768m", mainClass: "kafka.Kafka", args: [dirs(ctx).props] });
    },

    async probe(ctx) {
      const settings = {
        brokers: [`${LOCAL_HOST}:${ports(ctx.config).port}`],
        clientId: "sagastream-stack-probe",
        security: stackClientSecurity(ctx),
      };
      await withAdmin(
        settings,
        async (admin) => {
          const cluster = await admin.metadata({ topics: [] });
          if (!cluster.brokers.has(spec.node)) {
            throw new Error(`broker ${spec.node} is not registered yet`);
          }
        },
        PROBE,
      );
    },
  };
}
