/** `sagastream stack up | down | status | logs`: the local real stack. */
import { Command, Option } from "commander";
import { loadConfig, type ConfigKey } from "../config/index.js";
import { UsageError } from "../errors/index.js";
import { Stack } from "../stack/index.js";

interface CommonFlags {
  stateDir?: string;
}

function stackFor(flags: CommonFlags & { timeout?: string; brokers?: string }): Stack {
  const overrides: Partial<Record<ConfigKey, string>> = {};
  if (flags.brokers !== undefined) overrides.SAGASTREAM_BROKERS = flags.brokers;
  if (flags.stateDir !== undefined) overrides.SAGASTREAM_STATE_DIR = flags.stateDir;
  if (flags.timeout !== undefined) overrides.SAGASTREAM_STACK_TIMEOUT = flags.timeout;
  return new Stack(loadConfig(process.env, overrides), (line) => {
    process.stderr.write(`stack: ${line}\n`);
  });
}

/** The env lines a client needs, with no secret in them (passwords as files or `***`). */
function printConnections(stack: Stack): void {
  const security = stack.security();
  if (security !== undefined) {
    process.stderr.write(
      `stack: secure: brokers listen with SASL_SSL (SCRAM-SHA-512 or PLAIN); CA ${security.caFile}; ` +
        `user ${security.username}, password in ${security.passwordFile} (mode 600)\n`,
    );
  }
  for (const [key, value] of Object.entries(stack.connectionEnv())) {
    process.stdout.write(`${key}=${value}\n`);
  }
}

function stateDirOption(): Option {
  return new Option(
    "--state-dir <dir>",
    "where the stack keeps JARs, data, logs and pid files (env SAGASTREAM_STATE_DIR, default .stack)",
  );
}

export function stackCommand(): Command {
  const stack = new Command("stack").description(
    "run the local real stack without Docker: Kafka (KRaft), schema registry (Apicurio), " +
      "PostgreSQL, Kafka Connect with Debezium, and with --dr a DR region (Kafka, MirrorMaker 2, " +
      "a registry and Connect)",
  );

  stack
    .command("up")
    .description(
      "start the stack (reuses components already running) and print its connection settings",
    )
    .option(
      "--dr",
      "also start the DR region: its Kafka cluster, MirrorMaker 2 (primary → DR), a registry " +
        "reading the mirrored journal, and a Connect worker",
      false,
    )
    .option(
      "--secure",
      "make a new stack whose brokers listen with SASL_SSL (SCRAM-SHA-512 and PLAIN users, a CA " +
        "and certificates it generates under the state dir); remembered by the stack",
      false,
    )
    .option(
      "--brokers <count>",
      "nodes of the primary Kafka cluster, 1 to 5, fixed when the stack is created; with 3 or " +
        "more, topics get 3 replicas and min.insync.replicas 2 (env SAGASTREAM_BROKERS, default 1)",
    )
    .option(
      "--timeout <seconds>",
      "how long to wait for each component to be ready (env SAGASTREAM_STACK_TIMEOUT)",
    )
    .addOption(stateDirOption())
    .action(
      async (
        flags: CommonFlags & { dr: boolean; secure: boolean; timeout?: string; brokers?: string },
      ) => {
        const s = stackFor(flags);
        const started = Date.now();
        const result = await s.up({ dr: flags.dr, secure: flags.secure });
        process.stderr.write(
          `stack: up in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
            `(started: ${result.started.join(", ") || "none"}; already running: ${result.reused.join(", ") || "none"})\n`,
        );
        printConnections(s);
      },
    );

  stack
    .command("down")
    .description("stop every component the stack started; nothing else is touched")
    .option(
      "--purge",
      "also delete the components' data and logs (the resolved JARs are kept)",
      false,
    )
    .addOption(stateDirOption())
    .action(async (flags: CommonFlags & { purge: boolean }) => {
      const stopped = await stackFor(flags).down({ purge: flags.purge });
      process.stderr.write(
        `stack: ${stopped.length === 0 ? "nothing was running" : `stopped ${stopped.join(", ")}`}\n`,
      );
    });

  stack
    .command("status")
    .description("show each component's process and readiness, and the connection settings")
    .option("--json", "print machine-readable JSON", false)
    .addOption(stateDirOption())
    .action(async (flags: CommonFlags & { json: boolean }) => {
      const s = stackFor(flags);
      const statuses = await s.status();
      if (flags.json) {
        process.stdout.write(
          `${JSON.stringify({ components: statuses, connections: s.connectionEnv() }, null, 2)}\n`,
        );
        return;
      }
      for (const c of statuses) {
        const state =
          c.pid === undefined
            ? "stopped"
            : c.ready
              ? `ready    pid ${c.pid}`
              : `starting pid ${c.pid} (${c.problem ?? ""})`;
        process.stdout.write(`${c.name.padEnd(13)} ${state}\n`);
      }
      process.stdout.write("\n");
      printConnections(s);
      if (statuses.some((c) => c.pid !== undefined && !c.ready)) process.exitCode = 3;
    });

  stack
    .command("logs")
    .description("print the last lines of a component's log (or of all), optionally following it")
    .argument(
      "[component]",
      "postgres, kafka (kafka-2 ... with --brokers), registry, connect, kafka-dr, mirror-maker, " +
        "registry-dr or connect-dr",
    )
    .option("-n, --lines <count>", "how many lines", "50")
    .option("-f, --follow", "keep printing new lines", false)
    .addOption(stateDirOption())
    .action(
      async (
        component: string | undefined,
        flags: CommonFlags & { lines: string; follow: boolean },
      ) => {
        const lines = Number(flags.lines);
        if (!Number.isInteger(lines) || lines < 0)
          throw new UsageError(`--lines must be a whole number (got ${flags.lines})`);
        await stackFor(flags).logs(component, lines, flags.follow);
      },
    );

  return stack;
}
