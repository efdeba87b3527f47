/**
 * The local real stack: starts each component as a tracked child process, in dependency
 * order (independent ones in parallel), waits until each is really ready, and stops only
 * what it started.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { connectionEnv, portKey, type Config } from "../config/index.js";
import {
  ComponentFailedError,
  ComponentNotReadyError,
  PortBusyError,
  UsageError,
} from "../errors/index.js";
import { secondsSince, waitUntil, WaitTimeoutError } from "../util/index.js";
import { ComponentName, type Component, type StackContext } from "./component.js";
import { connect } from "./components/connect.js";
import { kafkaBroker } from "./components/kafka.js";
import { mirrorMaker } from "./components/mirror-maker.js";
import { postgres } from "./components/postgres.js";
import { registry } from "./components/registry.js";
import { resolveJvmComponents } from "./jvm-resolve.js";
import { stackPaths, type StackPaths } from "./paths.js";
import { findPrerequisites } from "./prerequisites.js";
import { launch, removePidFile, runningPid, stopProcess, tailOf, watchExit } from "./processes.js";
import { silentReporter, type Reporter } from "./reporter.js";

/** Every component, in a valid start order. */
export const COMPONENTS: readonly Component[] = [
  postgres(),
  kafkaBroker({
    name: "kafka",
    port: "kafka",
    controllerPort: "kafkaController",
    disasterRecovery: false,
  }),
  kafkaBroker({
    name: "kafka-dr",
    port: "drKafka",
    controllerPort: "drKafkaController",
    disasterRecovery: true,
  }),
  registry(),
  connect(),
  mirrorMaker(),
];

export interface UpOptions {
  /** Also start the DR Kafka cluster and MirrorMaker 2. */
  dr: boolean;
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
    return COMPONENTS.filter((c) => options.dr || !c.disasterRecovery);
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
    await this.assertPortsFree(this.components(options));
    await resolveJvmComponents(this.paths.jvm, prereqs, this.report);
    await writeFile(this.paths.log4j, LOG4J);
    const ctx: StackContext = {
      config: this.config,
      paths: this.paths,
      prereqs,
      report: this.report,
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
      for (const port of c.ports) {
        const number = this.config.ports[port];
        if (await isPortBusy(number)) throw new PortBusyError(c.name, number, portKey(port));
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

  /** Stops the running components (all, or `only` these), newest first. */
  async down(options: { only?: ComponentName[]; purge?: boolean } = {}): Promise<ComponentName[]> {
    const stopped: ComponentName[] = [];
    const targets = COMPONENTS.filter((c) => options.only?.includes(c.name) ?? true);
    for (const wave of startWaves(targets).reverse()) {
      await Promise.all(
        wave.map(async (c) => {
          const pidFile = this.paths.pidFile(c.name);
          const pid = await runningPid(pidFile, this.paths.root);
          if (pid !== undefined) {
            const started = Date.now();
            const how = await stopProcess(pid, c.stopSignal, 30_000);
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
    const ctx = { config: this.config, paths: this.paths } as StackContext; // probes need only these
    const results = await Promise.allSettled(this.components(options).map((c) => c.probe(ctx)));
    return results.every((r) => r.status === "fulfilled");
  }

  async status(): Promise<ComponentStatus[]> {
    const ctx = { config: this.config, paths: this.paths } as StackContext; // probes need only these
    return Promise.all(
      COMPONENTS.map(async (c) => {
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
    const names = COMPONENTS.map((c) => c.name as string);
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

  connectionEnv(): Record<string, string> {
    return connectionEnv(this.config.connections);
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
