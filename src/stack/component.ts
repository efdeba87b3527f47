/** What the stack knows about each component it runs. */
import {
  localConnections,
  PLAINTEXT,
  type Config,
  type ConfigKey,
  type KafkaSecurity,
} from "../config/index.js";
import type { KafkaSettings } from "../kafka/index.js";
import type { StackPaths } from "./paths.js";
import type { Prerequisites } from "./prerequisites.js";
import type { LaunchSpec } from "./processes.js";
import type { Reporter } from "./reporter.js";
import type { StackSecurity } from "./security.js";

export const ComponentName = {
  Postgres: "postgres",
  Kafka: "kafka",
  Registry: "registry",
  Connect: "connect",
  DrKafka: "kafka-dr",
  MirrorMaker: "mirror-maker",
  RegistryDr: "registry-dr",
  ConnectDr: "connect-dr",
} as const;
/** The fixed components, and `kafka-2` ... for the further nodes of the primary cluster. */
export type ComponentName = (typeof ComponentName)[keyof typeof ComponentName] | `kafka-${number}`;

export interface StackContext {
  config: Config;
  /** Nodes of the primary Kafka cluster. */
  brokers: number;
  paths: StackPaths;
  prereqs: Prerequisites;
  report: Reporter;
  /** Set for a stack made with `--secure`: its brokers listen with SASL_SSL. */
  security: StackSecurity | undefined;
}

export interface Component {
  readonly name: ComponentName;
  /** Ports it listens on, checked to be free before it starts, with the variable moving each. */
  ports(config: Config): { port: number; key: ConfigKey }[];
  /** Components that must be ready before this one starts. */
  readonly dependsOn: ComponentName[];
  /** Only started with `stack up --dr`. */
  readonly disasterRecovery: boolean;
  /** What readiness means, printed while waiting. */
  readonly readiness: string;
  /** The signal for a clean shutdown. */
  readonly stopSignal: NodeJS.Signals;
  /** Writes config files and initializes data directories (idempotent). */
  prepare(ctx: StackContext): Promise<void>;
  launchSpec(ctx: StackContext): LaunchSpec;
  /** One readiness check; throws with the reason when not ready yet. */
  probe(ctx: StackContext): Promise<void>;
  /** One-time setup that needs the component running (idempotent). */
  afterReady?(ctx: StackContext): Promise<void>;
}

/** The common JVM flags: a bounded heap, our log4j config, and a marker naming this stack. */
export function javaLaunch(
  ctx: StackContext,
  options: {
    heap: string;
    mainClass?: string;
    jar?: string;
    args: string[];
    systemProperties?: Record<string, string | number | boolean>;
  },
): LaunchSpec {
  const args = [
    `-Xms64m`,
    `-Xmx${options.heap}`,
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-Djava.awt.headless=true",
    `-Dlog4j.configuration=file:${ctx.paths.log4j}`,
    `-Dsagastream.stack=${ctx.paths.root}`,
    ...Object.entries(options.systemProperties ?? {}).map(([k, v]) => `-D${k}=${String(v)}`),
  ];
  if (options.jar !== undefined) {
    args.push("-jar", options.jar);
  } else {
    args.push("-cp", `${ctx.paths.jvm}/lib/*`, options.mainClass ?? "");
  }
  return { command: ctx.prereqs.java, args: [...args, ...options.args] };
}

/** The two regions of a stack: its primary cluster, and with `--dr` the DR cluster. */
export const Region = { Primary: "primary", Dr: "dr" } as const;
export type Region = (typeof Region)[keyof typeof Region];

/** Where the stack's own clients (Connect, the registry, MirrorMaker 2) find a region's Kafka. */
export function regionBootstrap(ctx: StackContext, region: Region): string {
  const local = localConnections(ctx.config.ports, ctx.brokers);
  return (region === Region.Primary ? local.kafkaBrokers : local.drKafkaBrokers).join(",");
}

export function primaryBootstrap(ctx: StackContext): string {
  return regionBootstrap(ctx, Region.Primary);
}

/** How the stack's own Node clients (probes, topic setup) connect to its brokers. */
export function stackClientSecurity(ctx: StackContext): KafkaSecurity {
  return ctx.security?.client ?? PLAINTEXT;
}

/** The stack's own Node client of a region's Kafka (topic setup; probes name themselves). */
export function stackClientSettings(
  ctx: StackContext,
  region: Region,
  clientId = "sagastream-stack",
): KafkaSettings {
  return {
    brokers: regionBootstrap(ctx, region).split(","),
    clientId,
    security: stackClientSecurity(ctx),
  };
}
