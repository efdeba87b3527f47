/**
 * Apicurio Registry with its Confluent-compatible API. Its storage is a journal topic in the
 * primary Kafka (`kafkasql`), so schemas survive restarts and MirrorMaker 2 carries the same
 * schema ids to the DR cluster.
 */
import path from "node:path";
import { LOCAL_HOST, portKey } from "../../config/index.js";
import { ensureTopics, withAdmin } from "../../kafka/index.js";
import {
  javaLaunch,
  primaryBootstrap,
  stackClientSecurity,
  type Component,
  type StackContext,
} from "../component.js";
import { writeProperties, type Properties } from "../properties.js";
import { javaClientSecurity, prefixed } from "../security.js";

export const REGISTRY_VERSION = "3.0.9";
export const REGISTRY_JOURNAL_TOPIC = "sagastream.registry-journal";
const SNAPSHOTS_TOPIC = "sagastream.registry-snapshots";

/** A secure stack's registry reads its Kafka clients' SASL_SSL settings from here (mode 600). */
function securityFile(ctx: StackContext): string {
  return path.join(ctx.paths.componentDir("registry"), "kafka-security.properties");
}

/** What every Kafka client of the registry gets (`apicurio.kafka.common.*`), on a secure stack. */
export function registrySecurityProperties(ctx: StackContext): Properties {
  return ctx.security === undefined
    ? {}
    : prefixed("apicurio.kafka.common.", javaClientSecurity(ctx.security));
}

function baseUrl(ctx: StackContext): string {
  return `http://${LOCAL_HOST}:${ctx.config.ports.registry}`;
}

export function registry(): Component {
  return {
    name: "registry",
    ports: (config) => [{ port: config.ports.registry, key: portKey("registry") }],
    dependsOn: ["kafka"],
    disasterRecovery: false,
    readiness: "the registry to answer GET /apis/ccompat/v7/subjects",
    stopSignal: "SIGTERM",

    async prepare(ctx) {
      // Created here, not by the broker's auto-create, so the journal is never expired.
      const settings = {
        brokers: primaryBootstrap(ctx).split(","),
        clientId: "sagastream-stack",
        security: stackClientSecurity(ctx),
      };
      if (ctx.security !== undefined) {
        await writeProperties(securityFile(ctx), registrySecurityProperties(ctx), undefined, {
          secret: true,
        });
      }
      await withAdmin(settings, (admin) =>
        ensureTopics(
          admin,
          [REGISTRY_JOURNAL_TOPIC, SNAPSHOTS_TOPIC].map((topic) => ({
            topic,
            partitions: 1, // the journal is one ordered log
            configs: { "retention.ms": "-1" },
          })),
        ),
      );
    },

    launchSpec(ctx) {
      return javaLaunch(ctx, {
        heap: "512m",
        jar: path.join(
          ctx.paths.jvm,
          "registry",
          `apicurio-registry-app-${REGISTRY_VERSION}-runner.jar`,
        ),
        args: [],
        systemProperties: {
          "quarkus.http.host": LOCAL_HOST,
          "quarkus.http.port": ctx.config.ports.registry,
          "apicurio.storage.kind": "kafkasql",
          "apicurio.kafkasql.bootstrap.servers": primaryBootstrap(ctx),
          "apicurio.kafkasql.topic": REGISTRY_JOURNAL_TOPIC,
          "apicurio.kafkasql.snapshots.topic": SNAPSHOTS_TOPIC,
          // Lets tests and operators delete subjects through the Confluent API.
          "apicurio.rest.deletion.artifact.enabled": true,
          "apicurio.rest.deletion.artifact-version.enabled": true,
          "apicurio.rest.deletion.group.enabled": true,
          // The SASL_SSL settings (a password among them) from a file, not the command line.
          ...(ctx.security === undefined
            ? {}
            : { "quarkus.config.locations": `file:${securityFile(ctx)}` }),
        },
      });
    },

    async probe(ctx) {
      const response = await fetch(`${baseUrl(ctx)}/apis/ccompat/v7/subjects`, {
        signal: AbortSignal.timeout(2000),
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
    },
  };
}
