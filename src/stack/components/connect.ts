/**
 * A Kafka Connect worker (distributed mode) with the Debezium PostgreSQL connector plugin, one
 * per region: each keeps its group and its internal topics in its own region's Kafka. The DR
 * region's worker (`stack up --dr`) starts with no connectors: a failover creates them there,
 * finding them in the primary's config topic, which MirrorMaker 2 copies to DR.
 */
import path from "node:path";
import { LOCAL_HOST, portKey } from "../../config/index.js";
import {
  javaLaunch,
  Region,
  regionBootstrap,
  type Component,
  type ComponentName,
  type StackContext,
} from "../component.js";
import { writeProperties, type Properties } from "../properties.js";
import { javaClientSecurity, prefixed } from "../security.js";

export const POSTGRES_CONNECTOR_CLASS = "io.debezium.connector.postgresql.PostgresConnector";
/** The primary Connect's config topic: mirrored to DR, unlike its other internal topics. */
export const PRIMARY_CONNECT_CONFIGS_TOPIC = "sagastream-connect-configs";

/** What differs between the two regions' workers; the group id also prefixes its topics. */
const REGIONS = {
  primary: {
    name: "connect",
    port: "connect",
    groupId: "sagastream-connect",
    dependsOn: ["kafka", "postgres"],
  },
  dr: {
    name: "connect-dr",
    port: "drConnect",
    groupId: "sagastream-connect-dr",
    dependsOn: ["kafka-dr", "postgres"],
  },
} as const satisfies Record<
  Region,
  {
    name: ComponentName;
    port: "connect" | "drConnect";
    groupId: string;
    dependsOn: ComponentName[];
  }
>;

function propsFile(ctx: StackContext, region: Region): string {
  return path.join(ctx.paths.componentDir(REGIONS[region].name), "connect-distributed.properties");
}

export function connectWorkerProperties(ctx: StackContext, region: Region): Properties {
  const { port: portName, groupId } = REGIONS[region];
  const port = ctx.config.ports[portName];
  return {
    "bootstrap.servers": regionBootstrap(ctx, region),
    "group.id": groupId,
    // Debezium outbox connectors set their own converters; these are the worker defaults.
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
    // The offsets and statuses are named *.internal so that MirrorMaker 2 leaves them out of
    // DR (it never copies such topics); the connectors' configs are copied, for a failover.
    "config.storage.topic": `${groupId}-configs`,
    "offset.storage.topic": `${groupId}-offsets.internal`,
    "status.storage.topic": `${groupId}-status.internal`,
    // The broker's default.replication.factor: 1 on one broker, 3 on three.
    "config.storage.replication.factor": -1,
    "offset.storage.replication.factor": -1,
    "status.storage.replication.factor": -1,
    "offset.flush.interval.ms": 1000,
    listeners: `http://${LOCAL_HOST}:${port}`,
    "rest.advertised.host.name": LOCAL_HOST,
    "rest.advertised.port": port,
    "plugin.path": path.join(ctx.paths.jvm, "plugins"),
    // Every plugin ships ServiceLoader manifests, so skip the slow classpath scan.
    "plugin.discovery": "service_load",
    ...securityProperties(ctx),
  };
}

/** On a secure stack: SASL_SSL for the worker and its connectors' producers, consumers, admins. */
function securityProperties(ctx: StackContext): Properties {
  if (ctx.security === undefined) return {};
  const client = javaClientSecurity(ctx.security);
  return {
    ...client,
    ...prefixed("producer.", client),
    ...prefixed("consumer.", client),
    ...prefixed("admin.", client),
  };
}

export function connect(region: Region): Component {
  const { name, port, dependsOn } = REGIONS[region];
  return {
    name,
    ports: (config) => [{ port: config.ports[port], key: portKey(port) }],
    dependsOn: [...dependsOn],
    disasterRecovery: region === Region.Dr,
    readiness: "Connect's REST API to list the Debezium PostgreSQL connector plugin",
    stopSignal: "SIGTERM",

    async prepare(ctx) {
      await writeProperties(
        propsFile(ctx, region),
        connectWorkerProperties(ctx, region),
        undefined,
        {
          secret: ctx.security !== undefined,
        },
      );
    },

    launchSpec(ctx) {
      return javaLaunch(ctx, {
        heap: "768m",
        mainClass: "org.apache.kafka.connect.cli.ConnectDistributed",
        args: [propsFile(ctx, region)],
      });
    },

    async probe(ctx) {
      const response = await fetch(
        `http://${LOCAL_HOST}:${ctx.config.ports[port]}/connector-plugins`,
        {
          signal: AbortSignal.timeout(2000),
        },
      );
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const plugins = (await response.json()) as { class: string }[];
      if (!plugins.some((p) => p.class === POSTGRES_CONNECTOR_CLASS)) {
        throw new Error(`${POSTGRES_CONNECTOR_CLASS} is not among the plugins`);
      }
    },
  };
}
