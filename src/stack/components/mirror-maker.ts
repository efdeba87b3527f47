/**
 * MirrorMaker 2 (dedicated mode) replicating the primary cluster to the DR cluster: the same
 * topic names (IdentityReplicationPolicy), consumer-group checkpoints, and group offsets
 * synced to DR, with intervals of seconds instead of the defaults' minutes.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { topicOffsets, withAdmin } from "../../kafka/index.js";
import {
  javaLaunch,
  primaryBootstrap,
  Region,
  regionBootstrap,
  stackClientSettings,
  type Component,
  type StackContext,
} from "../component.js";
import type { StackPaths } from "../paths.js";
import { PROBE } from "./kafka.js";
import { writeProperties, type Properties } from "../properties.js";
import { javaClientSecurity, prefixed } from "../security.js";

export const PRIMARY_ALIAS = "primary";
export const DR_ALIAS = "dr";
export const HEARTBEATS_TOPIC = "heartbeats";

function propsFile(ctx: StackContext): string {
  return path.join(ctx.paths.componentDir("mirror-maker"), "mm2.properties");
}

/** Topics left out of the mirror for good, a name per line (kept across restarts). */
function excludedFile(paths: StackPaths): string {
  return path.join(paths.componentDir("mirror-maker"), "excluded-topics");
}

async function excludedTopics(paths: StackPaths): Promise<string[]> {
  const text = await readFile(excludedFile(paths), "utf8").catch(() => "");
  return text.split("\n").filter((line) => line !== "");
}

/**
 * Leaves `topics` out of the mirror from its next start: an application's old generation after
 * a failback, whose logs diverge between the regions.
 */
export async function excludeFromMirror(
  paths: StackPaths,
  topics: readonly string[],
): Promise<void> {
  const all = new Set([...(await excludedTopics(paths)), ...topics]);
  await mkdir(path.dirname(excludedFile(paths)), { recursive: true });
  await writeFile(excludedFile(paths), [...all].map((t) => `${t}\n`).join(""));
}

function exactly(topic: string): string {
  return topic.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function mirrorMakerProperties(
  ctx: StackContext,
  excluded: readonly string[] = [],
): Properties {
  const flow = `${PRIMARY_ALIAS}->${DR_ALIAS}`;
  return {
    clusters: `${PRIMARY_ALIAS}, ${DR_ALIAS}`,
    [`${PRIMARY_ALIAS}.bootstrap.servers`]: primaryBootstrap(ctx),
    [`${DR_ALIAS}.bootstrap.servers`]: regionBootstrap(ctx, Region.Dr),
    [`${flow}.enabled`]: true,
    [`${DR_ALIAS}->${PRIMARY_ALIAS}.enabled`]: false,
    [`${flow}.topics`]: ".*",
    [`${flow}.groups`]: ".*",
    // The defaults, and the benchmarks' topics and groups: a bench measures one worker, not
    // this machine's ability to run a second region beside it. (MirrorMaker 2 never copies a
    // topic named *.internal or *-internal, whatever the filter says.)
    [`${flow}.topics.exclude`]: [
      ".*[-.]internal, .*[.]replica, __.*, bench[-_].*",
      ...excluded.map(exactly),
    ].join(", "),
    [`${flow}.groups.exclude`]: "console-consumer-.*, connect-.*, __.*, bench[-_].*",
    // Batches rather than a request per record: replication lags by at most about this.
    // The engine writes in transactions: read uncommitted (the consumer's default), MirrorMaker
    // would copy an aborted transaction's records to DR as if they had been committed.
    [`${PRIMARY_ALIAS}.consumer.isolation.level`]: "read_committed",
    [`${PRIMARY_ALIAS}.consumer.fetch.min.bytes`]: 65_536,
    [`${PRIMARY_ALIAS}.consumer.fetch.max.wait.ms`]: 250,
    [`${DR_ALIAS}.producer.linger.ms`]: 50,
    "replication.policy.class": "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
    "plugin.discovery": "service_load",
    "sync.topic.configs.enabled": true,
    "emit.checkpoints.enabled": true,
    "emit.checkpoints.interval.seconds": 2,
    "sync.group.offsets.enabled": true,
    "sync.group.offsets.interval.seconds": 2,
    "emit.heartbeats.interval.seconds": 2,
    "refresh.topics.interval.seconds": 5,
    "refresh.groups.interval.seconds": 5,
    // An offset sync every 100 records per partition (the default), and the latest one of a
    // partition gone quiet at each offset flush, so a caught-up group translates exactly
    // within seconds. (A sync per record, offset.lag.max=0, cost half a core at 20 sagas/s.)
    "offset.flush.interval.ms": 2000,
    // The DR cluster has one broker locally (production: 3); the offset syncs live on the
    // primary, which has `stack up --brokers`.
    "replication.factor": 1,
    "checkpoints.topic.replication.factor": 1,
    "heartbeats.topic.replication.factor": 1,
    "offset-syncs.topic.replication.factor": Math.min(3, ctx.brokers),
    "offset.storage.replication.factor": 1,
    "status.storage.replication.factor": 1,
    "config.storage.replication.factor": 1,
    // A secure stack's clusters both listen with SASL_SSL.
    ...(ctx.security === undefined
      ? {}
      : {
          ...prefixed(`${PRIMARY_ALIAS}.`, javaClientSecurity(ctx.security)),
          ...prefixed(`${DR_ALIAS}.`, javaClientSecurity(ctx.security)),
        }),
  };
}

export function mirrorMaker(): Component {
  return {
    name: "mirror-maker",
    ports: () => [],
    dependsOn: ["kafka", "kafka-dr"],
    disasterRecovery: true,
    readiness: "MirrorMaker 2's heartbeats to arrive on the DR cluster",
    stopSignal: "SIGTERM",

    async prepare(ctx) {
      const excluded = await excludedTopics(ctx.paths);
      await writeProperties(propsFile(ctx), mirrorMakerProperties(ctx, excluded), undefined, {
        secret: ctx.security !== undefined,
      });
    },

    launchSpec(ctx) {
      return javaLaunch(ctx, {
        heap: "512m",
        mainClass: "org.apache.kafka.connect.mirror.MirrorMaker",
        args: [propsFile(ctx), "--clusters", DR_ALIAS],
      });
    },

    async probe(ctx) {
      await withAdmin(
        stackClientSettings(ctx, Region.Dr, "sagastream-stack-probe"),
        async (admin) => {
          const offsets = await topicOffsets(admin, HEARTBEATS_TOPIC);
          if (!offsets.some((o) => o.high > 0n)) throw new Error("no heartbeat yet");
        },
        PROBE,
      );
    },
  };
}
