/**
 * `sagastream demo`, the main job: brings the local stack up if needed and runs the worked
 * order saga (examples/order) end to end, with a progress bar and a summary.
 */
import { Command, Option } from "commander";
import { loadConfig, type Connections } from "../config/index.js";
import { UsageError } from "../errors/index.js";
import { Stack } from "../stack/index.js";

interface DemoModule {
  runDemo(options: {
    connections: Connections;
    orders: number;
    rate: number;
    failureRate: number;
    timeoutRate: number;
    stepTimeoutMs: number;
    apiUrl: string;
    serveSeconds: number;
    write: (text: string) => void;
  }): Promise<void>;
}

function number(flag: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new UsageError(`${flag} must be a number from ${min} to ${max} (got "${value}")`);
    }
    return n;
  };
}

export function demoCommand(): Command {
  return new Command("demo")
    .description("run the worked order saga end to end on the local stack (starting it if needed)")
    .addOption(
      new Option("--orders <n>", "orders to place")
        .argParser(number("--orders", 1, 1_000_000))
        .default(1000),
    )
    .addOption(
      new Option("--rate <n>", "orders placed per second")
        .argParser(number("--rate", 1, 10_000))
        .default(100),
    )
    .addOption(
      new Option("--failure-rate <r>", "share of orders a participant refuses")
        .argParser(number("--failure-rate", 0, 1))
        .default(0.1),
    )
    .addOption(
      new Option("--timeout-rate <r>", "share of orders acknowledged after the step timeout")
        .argParser(number("--timeout-rate", 0, 1))
        .default(0.05),
    )
    .addOption(
      new Option("--step-timeout <ms>", "each step's timeout")
        .argParser(number("--step-timeout", 100, 600_000))
        .default(5000),
    )
    .addOption(
      new Option(
        "--serve <s>",
        "seconds to keep the status API up after the summary (-1: until Ctrl-C)",
      )
        .argParser(number("--serve", -1, 86_400))
        .default(60),
    )
    .action(
      async (flags: {
        orders: number;
        rate: number;
        failureRate: number;
        timeoutRate: number;
        stepTimeout: number;
        serve: number;
      }) => {
        const config = loadConfig();
        const stack = new Stack(config, (line) => process.stderr.write(`stack: ${line}\n`));
        // The primary region only: on one machine the DR cluster and MirrorMaker 2 would take
        // half its CPU from the sagas (README: "Where a saga's time goes").
        if (!config.externalCluster && !(await stack.isServing({ dr: false })))
          await stack.up({ dr: false });
        // The example is built beside the engine (dist/examples), importing it as a user would.
        const demo = (await import(
          new URL("../examples/order/demo.js", import.meta.url).href
        )) as DemoModule;
        await demo.runDemo({
          connections: config.connections,
          orders: flags.orders,
          rate: flags.rate,
          failureRate: flags.failureRate,
          timeoutRate: flags.timeoutRate,
          stepTimeoutMs: flags.stepTimeout,
          apiUrl: config.apiUrl,
          serveSeconds: flags.serve,
          write: (text) => process.stdout.write(text),
        });
      },
    );
}
