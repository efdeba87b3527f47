/**
 * One real stack per test run: use the cluster named by KAFKA_BROKERS & co., or a local stack
 * already serving on the configured ports (whoever started it); otherwise start what is
 * missing, and stop only what this run started.
 */
import type { TestProject } from "vitest/node";
import { loadConfig, type Connections } from "../../src/config/index.js";
import { Stack, type ComponentName } from "../../src/stack/index.js";

declare module "vitest" {
  export interface ProvidedContext {
    connections: Connections;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const config = loadConfig();
  const stack = new Stack(config, (line) => {
    process.stderr.write(`stack: ${line}\n`);
  });
  let started: ComponentName[] = [];
  if (!config.externalCluster && !(await stack.isServing({ dr: true }))) {
    started = (await stack.up({ dr: true })).started;
  }
  project.provide("connections", config.connections);
  return async () => {
    if (started.length > 0) await stack.down({ only: started });
  };
}
