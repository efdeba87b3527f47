/**
 * A raw pipe in a process of its own, so that its figures (CPU time above all) are its own:
 *   node dist/bench/raw-pipe-worker.js '<PipeOptions as JSON>'
 * It prints "ready" once its consumer runs, and a DrainStats line once it has written
 * `expect` outputs; SIGTERM stops it cleanly. A failed send, transaction or commit ends it
 * with code 1.
 */
import { inspect } from "node:util";
import { PipeClient, PipeDriver, type PipeOptions, type RawPipe } from "./raw-pipe.js";
import { DrainMeter } from "./worker-process.js";

const options = JSON.parse(process.argv[2] ?? "{}") as PipeOptions;

async function open(): Promise<RawPipe<unknown, unknown>> {
  switch (options.client) {
    case PipeClient.KafkaJs:
      return (await import("./raw-pipe-kafkajs.js")).kafkajsPipe(options);
    case PipeClient.Platformatic:
      return (await import("./raw-pipe-platformatic.js")).platformaticPipe(options);
    case PipeClient.Engine:
      return (await import("./raw-pipe-platformatic.js")).platformaticPipe(options, true);
    case PipeClient.Confluent:
      return (await import("./raw-pipe-confluent.js")).confluentPipe(options);
    default: {
      const unknown: never = options.client;
      throw new Error(`no raw pipe for client "${String(unknown)}"`);
    }
  }
}

const pipe = await open();
const driver = new PipeDriver(
  pipe,
  options.mode,
  options.commitIntervalMs,
  new DrainMeter(options.expect),
);

let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  driver.stop();
  await pipe.close().catch((error: unknown) => {
    process.stderr.write(`raw pipe: close failed: ${inspect(error, { depth: 5 })}\n`);
  });
  process.exit(code);
};
process.on("SIGTERM", () => void stop(0));
driver.failed.catch(async (error: unknown) => {
  process.stderr.write(
    `raw pipe ${options.client} ${options.mode} failed: ${inspect(error, { depth: 5 })}\n`,
  );
  await stop(1);
});

await pipe.start(driver);
process.stdout.write("ready\n");
