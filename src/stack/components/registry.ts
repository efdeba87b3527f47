/**
 * Apicurio Registry with its Confluent-compatible API, one per region. Its storage is a
 * journal topic (`kafkasql`) written in the primary Kafka, so schemas survive restarts;
 * MirrorMaker 2 copies the journal to the DR cluster, where the DR region's registry
 * (`stack up --dr`) reads it, so a schema id means the same schema in both regions.
 *
 * What Apicurio 3.0.9 writes by itself: at every start a registry appends one `Bootstrap`
 * record (key: that type and a random UUID; no value) to the journal in its own cluster, and
 * is ready once it has read that record back. The DR registry's therefore lands in DR's copy,
 * between MirrorMaker 2's records; every registry skips bootstrap records other than its own,
 * so they change no schema and no id (they only make DR's offsets differ from the primary's).
 * It also creates its events topic (`registry-events`) when missing, and its consumers commit
 * offsets under a new group (`<registry.id>-<uuid>`) at each start. It takes no snapshot unless
 * asked through its admin API.
 */
import path from "node:path";
import { LOCAL_HOST, portKey } from "../../config/index.js";
import { ComponentFailedError } from "../../errors/index.js";
import { ensureTopics, withAdmin } from "../../kafka/index.js";
import { waitUntil } from "../../util/index.js";
import {
  javaLaunch,
  Region,
  regionBootstrap,
  stackClientSettings,
  type Component,
  type ComponentName,
  type StackContext,
} from "../component.js";
import { writeProperties, type Properties } from "../properties.js";
import { javaClientSecurity, prefixed } from "../security.js";

export const REGISTRY_VERSION = "3.0.9";
export const REGISTRY_JOURNAL_TOPIC = "sagastream.registry-journal";
const SNAPSHOTS_TOPIC = "sagastream.registry-snapshots";
const JOURNAL_TOPICS = [REGISTRY_JOURNAL_TOPIC, SNAPSHOTS_TOPIC];

/** What differs between the two regions' registries. */
const REGIONS = {
  primary: { name: "registry", port: "registry", dependsOn: ["kafka"] },
  // MirrorMaker 2 creates DR's copy of the journal, with the primary's topic configs.
  dr: { name: "registry-dr", port: "drRegistry", dependsOn: ["mirror-maker"] },
} as const satisfies Record<
  Region,
  { name: ComponentName; port: "registry" | "drRegistry"; dependsOn: ComponentName[] }
>;

/** A secure stack's registry reads its Kafka clients' SASL_SSL settings from here (mode 600). */
function securityFile(ctx: StackContext, name: ComponentName): string {
  return path.join(ctx.paths.componentDir(name), "kafka-security.properties");
}

/** What every Kafka client of the registry gets (`apicurio.kafka.common.*`), on a secure stack. */
export function registrySecurityProperties(ctx: StackContext): Properties {
  return ctx.security === undefined
    ? {}
    : prefixed("apicurio.kafka.common.", javaClientSecurity(ctx.security));
}

/** Creates the journal in the primary, not by the broker's auto-create, so it never expires. */
async function ensureJournal(ctx: StackContext): Promise<void> {
  await withAdmin(stackClientSettings(ctx, Region.Primary), (admin) =>
    ensureTopics(
      admin,
      JOURNAL_TOPICS.map((topic) => ({
        topic,
        partitions: 1, // the journal is one ordered log
        configs: { "retention.ms": "-1" },
      })),
    ),
  );
}

/**
 * Waits for MirrorMaker 2 to create DR's copy of the journal: a registry that found it missing
 * would create it itself, with Apicurio's configs rather than the primary's.
 */
async function awaitMirroredJournal(ctx: StackContext, name: ComponentName): Promise<void> {
  const description = `MirrorMaker 2 to create ${JOURNAL_TOPICS.join(" and ")} on the DR cluster`;
  try {
    await withAdmin(stackClientSettings(ctx, Region.Dr), (admin) =>
      waitUntil(
        async () => {
          const topics = await admin.listTopics();
          const missing = JOURNAL_TOPICS.filter((t) => !topics.includes(t));
          if (missing.length === 0) return true;
          throw new Error(`missing: ${missing.join(", ")}`);
        },
        { timeoutMs: ctx.config.stackTimeoutSeconds * 1000, intervalMs: 500, description },
      ),
    );
  } catch (error) {
    throw new ComponentFailedError(
      name,
      `cannot start: ${error instanceof Error ? error.message : String(error)}; ` +
        "see `sagastream stack logs mirror-maker`",
    );
  }
}

export function registry(region: Region): Component {
  const { name, port, dependsOn } = REGIONS[region];
  const baseUrl = (ctx: StackContext) => `http://${LOCAL_HOST}:${ctx.config.ports[port]}`;
  return {
    name,
    ports: (config) => [{ port: config.ports[port], key: portKey(port) }],
    dependsOn: [...dependsOn],
    disasterRecovery: region === Region.Dr,
    readiness: "the registry to answer GET /apis/ccompat/v7/subjects",
    stopSignal: "SIGTERM",

    async prepare(ctx) {
      if (ctx.security !== undefined) {
        await writeProperties(securityFile(ctx, name), registrySecurityProperties(ctx), undefined, {
          secret: true,
        });
      }
      await ensureJournal(ctx);
      if (region === Region.Dr) await awaitMirroredJournal(ctx, name);
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
          "quarkus.http.port": ctx.config.ports[port],
          "apicurio.storage.kind": "kafkasql",
          "apicurio.kafkasql.bootstrap.servers": regionBootstrap(ctx, region),
          "apicurio.kafkasql.topic": REGISTRY_JOURNAL_TOPIC,
          "apicurio.kafkasql.snapshots.topic": SNAPSHOTS_TOPIC,
          // Lets tests and operators delete subjects through the Confluent API.
          "apicurio.rest.deletion.artifact.enabled": true,
          "apicurio.rest.deletion.artifact-version.enabled": true,
          "apicurio.rest.deletion.group.enabled": true,
          // The SASL_SSL settings (a password among them) from a file, not the command line.
          ...(ctx.security === undefined
            ? {}
            : { "quarkus.config.locations": `file:${securityFile(ctx, name)}` }),
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
