#!/usr/bin/env node
/** The `sagastream` command. */
import { Command } from "commander";
import { loadConfig } from "../config/index.js";
import { SagastreamError } from "../errors/index.js";
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
import { whatifCommand } from "./whatif-command.js";
import { capacityCommand } from "./capacity-command.js";
import { repartitionCommand } from "./repartition-command.js";
import { drCommand } from "./dr-command.js";

const program = new Command("sagastream")
  .description("event-sourced saga engine on Apache Kafka")
  .showHelpAfterError()
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
  .addCommand(demoCommand())
  .addCommand(benchCommand());

// Every Kafka client a command makes without security of its own (a saga worker's, a
// benchmark's) takes the configuration's: KAFKA_SECURITY_PROTOCOL & co., or a `--secure` stack.
setDefaultKafkaSecurity(() => loadConfig().connections.kafkaSecurity);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof SagastreamError) {
    process.stderr.write(`sagastream: ${error.message}\n`);
  } else {
    process.stderr.write(
      `sagastream: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  }
  process.exitCode = 1;
}
