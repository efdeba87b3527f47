#!/usr/bin/env node
/** The `sagastream` command. */
import { Command } from "commander";
import { loadConfig } from "../config/index.js";
import { setDefaultKafkaSecurity } from "../kafka/index.js";
import { demoCommand } from "./demo-command.js";
import { stackCommand } from "./stack-command.js";
import { benchCommand } from "./bench-command.js";
import { connectorsCommand, outboxCommand } from "./outbox-command.js";
import { schemasCommand } from "./schemas-command.js";
import { sagaCommand } from "./saga-command.js";
import { replayCommand } from "./replay-command.js";
import { rebuildCommand } from "./rebuild-command.js";
import { scaleCommand } from "./scale-command.js";
import { drCommand } from "./dr-command.js";
import { whatifCommand } from "./whatif-command.js";
import { capacityCommand } from "./capacity-command.js";
import { repartitionCommand } from "./repartition-command.js";
import { dlqCommand } from "./dlq-command.js";
import { consoleCommand } from "./console-command.js";
import { ExitCode } from "./exit-codes.js";
import { describeFailure, type Endpoints } from "./failure.js";

// A reader that goes away (`sagastream stack status | head`) is not a failure: stop quietly.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(ExitCode.Ok);
  throw error;
});

// `--verbose` anywhere: a failure's stack trace too.
const verbose = process.argv.includes("--verbose") || process.env.SAGASTREAM_VERBOSE === "1";
const argv = process.argv.filter((arg) => arg !== "--verbose");

const program = new Command("sagastream")
  .description("event-sourced saga engine on Apache Kafka")
  .option("--verbose", "print a failure's stack trace too (anywhere on the line)")
  .addCommand(stackCommand())
  .addCommand(outboxCommand())
  .addCommand(connectorsCommand())
  .addCommand(schemasCommand())
  .addCommand(sagaCommand())
  .addCommand(replayCommand())
  .addCommand(rebuildCommand())
  .addCommand(whatifCommand())
  .addCommand(scaleCommand())
  .addCommand(capacityCommand())
  .addCommand(repartitionCommand())
  .addCommand(drCommand())
  .addCommand(dlqCommand())
  .addCommand(consoleCommand())
  .addCommand(demoCommand())
  .addCommand(benchCommand());

// Every Kafka client a command makes without security of its own (a saga worker's, a
// benchmark's) takes the configuration's: KAFKA_SECURITY_PROTOCOL & co., or a `--secure` stack.
setDefaultKafkaSecurity(() => loadConfig().connections.kafkaSecurity);

/** The configured endpoints, by variable, to say which one a failure points at. */
function endpoints(): Endpoints {
  try {
    const c = loadConfig().connections;
    return {
      KAFKA_BROKERS: c.kafkaBrokers,
      DR_KAFKA_BROKERS: c.drKafkaBrokers,
      DATABASE_URL: c.databaseUrl,
      CDC_DATABASE_URL: c.cdcDatabaseUrl,
      CONNECT_URL: c.connectUrl,
      DR_CONNECT_URL: c.drConnectUrl,
      SCHEMA_REGISTRY_URL: c.schemaRegistryUrl,
      DR_SCHEMA_REGISTRY_URL: c.drSchemaRegistryUrl,
    };
  } catch {
    return {};
  }
}

// Commander's own errors (an unknown option, a missing argument) exit as usage errors, in
// every command (a command added whole does not inherit its parent's settings).
function usageErrors(command: Command): void {
  command.showHelpAfterError("(add --help for usage)").exitOverride((error) => {
    process.exit(error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage);
  });
  for (const sub of command.commands) usageErrors(sub);
}
usageErrors(program);

try {
  await program.parseAsync(argv);
} catch (error) {
  const failure = describeFailure(error, endpoints());
  process.stderr.write(`sagastream: ${failure.message}\n`);
  if (verbose && error instanceof Error && error.stack !== undefined) {
    process.stderr.write(`${error.stack}\n`);
  }
  process.exitCode = failure.exitCode;
}
