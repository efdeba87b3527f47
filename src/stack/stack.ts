/**
 * The local real stack: starts each component as a tracked child process, in dependency
 * order (independent ones in parallel), waits until each is really ready, and stops only
 * what it started.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import {
  connectionEnv,
  localConnections,
  MAX_BROKERS,
  type Config,
  type KafkaSecurity,
} from "../config/index.js";
import {
  ComponentFailedError,
  ComponentNotReadyError,
  PortBusyError,
  UsageError,
} from "../errors/index.js";
import { secondsSince, waitUntil, WaitTimeoutError } from "../util/index.js";
import { ComponentName, Region, type Component, type StackContext } from "./component.js";
import { connect } from "./components/connect.js";
import { kafkaBroker, primaryBrokerName } from "./components/kafka.js";
import { mirrorMaker } from "./components/mirror-maker.js";
import { postgres } from "./components/postgres.js";
import { registry } from "./components/registry.js";
import { resolveJvmComponents } from "./jvm-resolve.js";
import { stackPaths, type StackPaths } from "./paths.js";
import { findPrerequisites } from "./prerequisites.js";
import { launch, removePidFile, runningPid, stopProcess, tailOf, watchExit } from "./processes.js";
import { silentReporter, type Reporter } from "./reporter.js";
import {
  ensureStackSecurity,
  isSecureStack,
  readStackSecurity,
  type StackSecurity,
} from "./security.js";

/** Every component of a stack whose primary cluster has `brokers` nodes, in a start order. */
export function stackComponents(brokers: number): Component[] {
  const primary = Array.from({ length: brokers }, (_, i) =>
    kafkaBroker({
      name: primaryBrokerName(i + 1),
      port: "kafka",
      controllerPort: "kafkaController",
      disasterRecovery: false,
      node: i + 1,
      nodes: brokers,
    }),
  );
  const dr = kafkaBroker({
    name: "kafka-dr",
    port: "drKafka",
    controllerPort: "drKafkaController",
    disasterRecovery: true,
    node: 1,
    nodes: 1,
  });
  return [
    postgres(),
    ...primary,
    dr,
    registry(Region.Primary),
    connect(Region.Primary),
    mirrorMaker(),
    registry(Region.Dr),
    connect(Region.Dr),
  ];
}

export interface UpOptions {
  /** Also start the DR region: its Kafka cluster, MirrorMaker 2, a registry and Connect. */
  dr: boolean;
  /** Only these components (e.g. one broker brought back after a fault drill). */
  only?: ComponentName[];
  /**
   * Make a new stack secure: its brokers listen with SASL_SSL (a CA, certificates and users
   * of its own). Remembered: a stack made so stays secure, and one made plain refuses it.
   */
  secure?: boolean;
}

export interface UpResult {
  started: ComponentName[];
  reused: ComponentName[];
}

export interface ComponentStatus {
  name: ComponentName;
  pid: number | undefined;
  ready: boolean;
  /** Why it is not ready, when running. */
  problem: string | undefined;
  logFile: string;
}

const LOG4J = `# Kafka, Connect and MirrorMaker 2 log to stdout, which the stack appends to logs/<name>.log
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.org.apache.kafka.common.utils.AppInfoParser=WARN
log4j.logger.org.reflections=ERROR
log4j.logger.kafka.request.logger=WARN
`;

export class Stack {
  readonly paths: StackPaths;

  constructor(
    readonly config: Config,
    private readonly report: Reporter = silentReporter,
  ) {
    this.paths = stackPaths(config.stateDir);
  }

  components(options: UpOptions): Component[] {
    return stackComponents(this.brokers()).filter(
      (c) => (options.dr || !c.disasterRecovery) && (options.only?.includes(c.name) ?? true),
    );
  }

  /** Where the stack remembers how many brokers its primary cluster was created with. */
  private get brokersFile(): string {
    return path.join(this.paths.componentDir(primaryBrokerName(1)), "brokers");
  }

  /**
   * The primary cluster's size: as created, for a stack that has data; else as configured
   * (`--brokers`, SAGASTREAM_BROKERS), else 1. A different size asked of an existing stack is
   * refused: its nodes' quorum is fixed when their storage is formatted.
   */
  brokers(): number {
    const formatted = existsSync(
      path.join(this.paths.componentDir(primaryBrokerName(1)), "data", "meta.properties"),
    );
    const created = existsSync(this.brokersFile)
      ? Number(readFileSync(this.brokersFile, "utf8"))
      : formatted
        ? 1
        : undefined;
    const asked = this.config.brokers;
    if (created !== undefined && asked !== undefined && asked !== created) {
      throw new UsageError(
        `the stack under ${this.paths.root} was created with ${created} broker(s); ` +
          `to run ${asked}, remove it first with \`sagastream stack down --purge\``,
      );
    }
    return created ?? asked ?? 1;
  }

  /** The stack's CA, certificates and users, if it was made with `--secure`. */
  security(): StackSecurity | undefined {
    return readStackSecurity(this.paths.root);
  }

  /**
   * The security of the stack `up` brings up: made now for a new stack asked `secure`; a
   * stack that has data keeps what it was made with (its SCRAM users are in its metadata).
   */
  private async securityFor(asked: boolean): Promise<StackSecurity | undefined> {
    if (isSecureStack(this.paths.root)) return ensureStackSecurity(this.paths.root);
    if (!asked) return undefined;
    const formatted = [primaryBrokerName(1), "kafka-dr"].some((name) =>
      existsSync(path.join(this.paths.componentDir(name), "data", "meta.properties")),
    );
    if (formatted) {
      throw new UsageError(
        `the stack under ${this.paths.root} was created without --secure; ` +
          "to run it secure, remove it first with `sagastream stack down --purge`",
      );
    }
    this.report(`making a CA, the brokers' certificate and users under ${this.paths.root}`);
    return ensureStackSecurity(this.paths.root);
  }

  /**
   * Brings the stack up, reusing components that already run. If a component fails, the
   * ones this call started are stopped again (their logs stay) and the error is thrown.
   */
  async up(options: UpOptions): Promise<UpResult> {
    if (this.config.externalCluster) {
      throw new UsageError(
        "KAFKA_BROKERS is set, so every command uses that cluster; unset it to run the local stack",
      );
    }
    const prereqs = await findPrerequisites({
      javaHome: this.config.javaHome,
      pgBin: this.config.pgBin,
    });
    this.report(
      `using Java ${prereqs.javaMajor} at ${prereqs.javaHome}, PostgreSQL at ${prereqs.pgBin}`,
    );
    const brokers = this.brokers();
    const security = await this.securityFor(options.secure === true);
    await this.assertPortsFree(this.components(options));
    await resolveJvmComponents(this.paths.jvm, prereqs, this.report);
    await writeFile(this.paths.log4j, LOG4J);
    await mkdir(path.dirname(this.brokersFile), { recursive: true });
    await writeFile(this.brokersFile, `${brokers}\n`);
    const ctx: StackContext = {
      config: this.config,
      brokers,
      paths: this.paths,
      prereqs,
      report: this.report,
      security,
    };

    const result: UpResult = { started: [], reused: [] };
    try {
      for (const wave of startWaves(this.components(options))) {
        const outcomes = await Promise.allSettled(wave.map((c) => this.startOrReuse(c, ctx)));
        outcomes.forEach((outcome, i) => {
          const name = wave[i]?.name;
          if (outcome.status === "fulfilled" && name !== undefined)
            result[outcome.value].push(name);
        });
        const failure = outcomes.find((o) => o.status === "rejected");
        if (failure !== undefined) throw failure.reason;
      }
    } catch (error) {
      if (result.started.length > 0) {
        this.report(`stopping what this call started: ${result.started.join(", ")}`);
        await this.down({ only: result.started });
      }
      throw error;
    }
    return result;
  }

  /** Fails fast, before anything starts, if a component that is not running cannot bind. */
  private async assertPortsFree(components: Component[]): Promise<void> {
    for (const c of components) {
      if ((await runningPid(this.paths.pidFile(c.name), this.paths.root)) !== undefined) continue;
      for (const { port, key } of c.ports(this.config)) {
        if (await isPortBusy(port)) throw new PortBusyError(c.name, port, key);
      }
    }
  }

  private async startOrReuse(c: Component, ctx: StackContext): Promise<"started" | "reused"> {
    const existing = await runningPid(this.paths.pidFile(c.name), this.paths.root);
    if (existing !== undefined) {
      await this.waitReady(c, ctx, watchExit(existing));
      this.report(`${c.name}: already running (pid ${existing}), ready`);
      return "reused";
    }
    await c.prepare(ctx);
    const started = Date.now();
    const logFile = this.paths.logFile(c.name);
    const child = await launch(c.launchSpec(ctx), logFile, this.paths.pidFile(c.name));
    this.report(`${c.name}: started (pid ${child.pid}), waiting for ${c.readiness}`);
    await this.waitReady(c, ctx, child.exited);
    await c.afterReady?.(ctx);
    this.report(`${c.name}: ready in ${secondsSince(started)} s`);
    return "started";
  }

  /** Waits for the component's probe to pass; fails early if its process exits. */
  private async waitReady(c: Component, ctx: StackContext, exited: Promise<string>): Promise<void> {
    const logFile = this.paths.logFile(c.name);
    const timeoutMs = this.config.stackTimeoutSeconds * 1000;
    const abort = new AbortController();
    const died = exited.then(async (how) => {
      const tail = await tailOf(logFile, 15);
      throw new ComponentFailedError(
        c.name,
        `${how} before it was ready; its last output:\n${tail}\n`,
        logFile,
      );
    });
    try {
      await Promise.race([
        waitUntil(async () => (await c.probe(ctx), true), {
          timeoutMs,
          intervalMs: 500,
          description: c.readiness,
          signal: abort.signal,
        }),
        died,
      ]);
    } catch (error) {
      if (error instanceof WaitTimeoutError) {
        throw new ComponentNotReadyError(c.name, c.readiness, timeoutMs / 1000, error.lastProblem);
      }
      throw error;
    } finally {
      abort.abort();
      died.catch(() => undefined);
    }
  }

  /**
   * Stops the running components (all, or `only` these), newest first; each gets `graceMs`
   * (default 30 s) to stop cleanly before it is killed.
   */
  async down(
    options: { only?: ComponentName[]; purge?: boolean; graceMs?: number } = {},
  ): Promise<ComponentName[]> {
    const stopped: ComponentName[] = [];
    // Every node a stack may have: one started with more brokers than now configured stops too.
    const targets = stackComponents(MAX_BROKERS).filter(
      (c) => options.only?.includes(c.name) ?? true,
    );
    for (const wave of startWaves(targets).reverse()) {
      await Promise.all(
        wave.map(async (c) => {
          const pidFile = this.paths.pidFile(c.name);
          const pid = await runningPid(pidFile, this.paths.root);
          if (pid !== undefined) {
            const started = Date.now();
            const how = await stopProcess(pid, c.stopSignal, options.graceMs ?? 30_000);
            this.report(`${c.name}: ${how} (pid ${pid}) in ${secondsSince(started)} s`);
            stopped.push(c.name);
          }
          await removePidFile(pidFile);
        }),
      );
    }
    if (options.purge === true) await this.purge();
    return stopped;
  }

  /** Deletes every component's data and logs; keeps the resolved JARs (a cache). */
  private async purge(): Promise<void> {
    if (!existsSync(this.paths.root)) return;
    for (const entry of await readdir(this.paths.root)) {
      if (entry === path.basename(this.paths.jvm)) continue;
      await rm(path.join(this.paths.root, entry), { recursive: true, force: true });
    }
    this.report(`purged data and logs under ${this.paths.root} (kept the resolved JARs)`);
  }

  /**
   * True when every component of the selection answers its readiness probe on the configured
   * ports, whoever started it (this state dir, another checkout, or docker compose).
   */
  async isServing(options: UpOptions): Promise<boolean> {
    const ctx = this.probeContext();
    const results = await Promise.allSettled(this.components(options).map((c) => c.probe(ctx)));
    return results.every((r) => r.status === "fulfilled");
  }

  private probeContext(): StackContext {
    const { config, paths } = this;
    // probes need only these
    return { config, paths, brokers: this.brokers(), security: this.security() } as StackContext;
  }

  async status(): Promise<ComponentStatus[]> {
    const ctx = this.probeContext();
    return Promise.all(
      stackComponents(ctx.brokers).map(async (c) => {
        const pid = await runningPid(this.paths.pidFile(c.name), this.paths.root);
        let problem: string | undefined;
        if (pid !== undefined) {
          problem = await c.probe(ctx).then(
            () => undefined,
            (error: unknown) => (error instanceof Error ? error.message : String(error)),
          );
        }
        return {
          name: c.name,
          pid,
          ready: pid !== undefined && problem === undefined,
          problem,
          logFile: this.paths.logFile(c.name),
        };
      }),
    );
  }

  /** Prints the tail of one component's log (or of all), following it with `follow`. */
  async logs(component: string | undefined, lines: number, follow: boolean): Promise<void> {
    const names = stackComponents(this.brokers()).map((c) => c.name as string);
    if (component !== undefined && !names.includes(component)) {
      throw new UsageError(`unknown component "${component}": choose one of ${names.join(", ")}`);
    }
    const files = (component === undefined ? names : [component])
      .map((n) => this.paths.logFile(n))
      .filter((f) => existsSync(f));
    if (files.length === 0) {
      throw new UsageError(
        `no logs yet under ${this.paths.logs}: start the stack with \`sagastream stack up\``,
      );
    }
    const tail = spawn("tail", ["-n", String(lines), ...(follow ? ["-F"] : []), ...files], {
      stdio: "inherit",
    });
    await new Promise((resolve) => tail.once("close", resolve));
  }

  /**
   * The connection settings as env lines to print, with no secret in them (passwords as
   * `***`, or the file that holds them): the local cluster's every broker and its security,
   * unless KAFKA_BROKERS is set.
   */
  connectionEnv(): Record<string, string> {
    const { connections, externalCluster, ports } = this.config;
    const kafkaBrokers = externalCluster
      ? connections.kafkaBrokers
      : localConnections(ports, this.brokers()).kafkaBrokers;
    const kafkaSecurity: KafkaSecurity = externalCluster
      ? connections.kafkaSecurity
      : (this.security()?.client ?? connections.kafkaSecurity);
    return connectionEnv({ ...connections, kafkaBrokers, kafkaSecurity }, { redact: true });
  }
}

/** Groups components into waves: each wave depends only on earlier ones. */
export function startWaves(components: readonly Component[]): Component[][] {
  const names = new Set(components.map((c) => c.name));
  const placed = new Set<ComponentName>();
  const waves: Component[][] = [];
  let rest = [...components];
  while (rest.length > 0) {
    const wave = rest.filter((c) => c.dependsOn.every((d) => placed.has(d) || !names.has(d)));
    if (wave.length === 0) {
      throw new Error(`dependency cycle among: ${rest.map((c) => c.name).join(", ")}`);
    }
    wave.forEach((c) => placed.add(c.name));
    rest = rest.filter((c) => !wave.includes(c));
    waves.push(wave);
  }
  return waves;
}

export async function isPortBusy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => {
      resolve(true);
    });
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
      server.close(() => {
        resolve(false);
      });
    });
  });
}
