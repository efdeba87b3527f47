/**
 * The engine on a three-broker cluster (replication factor 3, min.insync.replicas 2, acks=all)
 * losing brokers mid-run: 2,000 order sagas, 10% refused by a participant and 5% answered only
 * after the step timeout, on two workers; the broker leading most of the saga-events log is
 * SIGKILLed and restarted at once, then, the cluster whole again, another is SIGKILLed and kept
 * down for a minute. Every saga must end once as its faults say, and every participant effect
 * and compensation must happen exactly once: nothing acknowledged is lost.
 *
 * The test runs a stack of its own beside the suite's: three brokers and a Connect worker (for
 * the order service's outbox) on other ports and state dir; the registry and PostgreSQL are
 * the suite's.
 */
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ConfigResourceTypes } from "@platformatic/kafka";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { FaultPlan, type OrderService } from "../../examples/order/index.js";
import { loadConfig, type Config } from "../../src/config/index.js";
import { withAdmin, type KafkaSettings } from "../../src/kafka/index.js";
import { sagaTopics } from "../../src/saga/index.js";
import { Stack, type ComponentName } from "../../src/stack/index.js";
import { waitUntil } from "../../src/util/index.js";
import {
  clock,
  expectOrderOutcomes,
  notEnded,
  orders,
  placeSteadily,
  watchSagaEvents,
} from "../support/order-outcomes.js";
import { orderWorld } from "../support/order-world.js";
import { spawnWorker, WorkerTimeline, type WorkerProcess } from "../support/worker-process.js";

const ORDERS = 2_000;
const ORDERS_PER_SECOND = 10;
const STEP_TIMEOUT_MS = 20_000;
const DOWN_MS = 60_000;
const BROKERS: ComponentName[] = ["kafka", "kafka-2", "kafka-3"];
const faults = new FaultPlan({ failureRate: 0.1, timeoutRate: 0.05 });

let root = "";
let stack: Stack;
let world: ReturnType<typeof orderWorld>;
let orderService: OrderService;
const workers: WorkerProcess[] = [];
const timeline = new WorkerTimeline();

/**
 * The test's own cluster: three brokers on 24092/24094/24096, Connect on 24083. Below the
 * kernel's ephemeral range (32768–60999): a port there may be the local end of one of the
 * suite's own client connections when the test starts, and then it cannot be listened on.
 */
function ownStackConfig(stateDir: string): Config {
  const suite = loadConfig();
  return loadConfig({
    SAGASTREAM_STATE_DIR: stateDir,
    SAGASTREAM_BROKERS: "3",
    SAGASTREAM_KAFKA_PORT: "24092",
    SAGASTREAM_KAFKA_CONTROLLER_PORT: "24093",
    SAGASTREAM_CONNECT_PORT: "24083",
    SAGASTREAM_JAVA_HOME: suite.javaHome,
    SAGASTREAM_PG_BIN: suite.pgBin,
    SAGASTREAM_STACK_TIMEOUT: String(suite.stackTimeoutSeconds),
  });
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "broker-faults-"));
  await chmod(root, 0o755);
  // The suite's resolved JARs, not a second download.
  const jars = path.join(loadConfig().stateDir, "jvm");
  await mkdir(path.join(root, "stack"), { recursive: true });
  if (existsSync(jars)) await symlink(jars, path.join(root, "stack", "jvm"));
  const config = ownStackConfig(path.join(root, "stack"));
  stack = new Stack(config, (line) => {
    process.stderr.write(`broker-faults stack: ${line}\n`);
  });
  await stack.up({ dr: false, only: [...BROKERS, "connect"] });
  world = orderWorld("brokerfaults", {
    kafkaBrokers: config.connections.kafkaBrokers,
    connectUrl: config.connections.connectUrl,
  });
  orderService = await world.startOrderService();
}, 300_000);

afterAll(async () => {
  for (const w of workers) w.process.kill("SIGKILL");
  // Either may be missing when beforeAll failed half-way; stop what there is.
  await Promise.resolve()
    .then(() => world.cleanup())
    .catch(() => undefined);
  await Promise.resolve().then(() => stack.down());
  await rm(root, { recursive: true, force: true });
}, 120_000);

async function pidOf(broker: ComponentName): Promise<number> {
  return Number(await readFile(stack.paths.pidFile(broker), "utf8"));
}

/** SIGKILLs a broker and waits until its process is gone. */
async function killBroker(broker: ComponentName): Promise<void> {
  const pid = await pidOf(broker);
  process.kill(pid, "SIGKILL");
  await waitUntil(
    () => {
      try {
        process.kill(pid, 0);
        return undefined;
      } catch {
        return true;
      }
    },
    { timeoutMs: 10_000, intervalMs: 100, description: `${broker} (pid ${pid}) to die` },
  );
}

/**
 * Every partition of the cluster's topics has all its replicas in sync again (the client
 * hides the internal topics' metadata; they are replicated like the others).
 */
async function waitFullyReplicated(kafka: KafkaSettings): Promise<void> {
  await waitUntil(
    () =>
      withAdmin(kafka, async (admin) => {
        const topics = await admin.listTopics();
        const metadata = await admin.metadata({ topics, forceUpdate: true });
        const behind = [...metadata.topics.values()].flatMap((t) =>
          t.partitions.filter((p) => p.isr.length < p.replicas.length),
        );
        return behind.length === 0 ? true : undefined;
      }),
    { timeoutMs: 120_000, intervalMs: 1000, description: "every replica to be in sync" },
  );
}

/** The broker leading most partitions of the saga-events log. */
async function busiestLeader(kafka: KafkaSettings, topic: string): Promise<ComponentName> {
  return withAdmin(kafka, async (admin) => {
    const partitions = (await admin.metadata({ topics: [topic] })).topics.get(topic)?.partitions;
    const led = new Map<number, number>();
    for (const p of partitions ?? []) led.set(p.leader, (led.get(p.leader) ?? 0) + 1);
    const [node] = [...led.entries()].sort((a, b) => b[1] - a[1])[0] ?? [1];
    return BROKERS[node - 1] ?? "kafka";
  });
}

describe("saga engine on three brokers", () => {
  it(`ends ${ORDERS} sagas exactly once while brokers are killed`, async () => {
    onTestFailed(() => {
      timeline.print();
    });
    const { name, kafka } = world;
    const topics = sagaTopics(name);
    const workerOptions = world.workerOptions(STEP_TIMEOUT_MS);
    for (const label of ["w1", "w2"]) {
      workers.push(
        await spawnWorker(
          "dist/examples/order/worker.js",
          label,
          path.join(root, label),
          workerOptions,
          (line) => {
            timeline.add(label, line);
          },
        ),
      );
    }
    const services = await world.startParticipants(faults, STEP_TIMEOUT_MS + 500);

    // The engine created its topics as the seed asks: 3 replicas, 2 in sync.
    await withAdmin(kafka, async (admin) => {
      const metadata = await admin.metadata({ topics: [topics.events, topics.replies] });
      for (const topic of metadata.topics.values()) {
        for (const p of topic.partitions) expect(p.replicas).toHaveLength(3);
      }
      const [described] = await admin.describeConfigs({
        resources: [
          {
            resourceType: ConfigResourceTypes.TOPIC,
            resourceName: topics.events,
            configurationKeys: ["min.insync.replicas"],
          },
        ],
      });
      expect(described?.configs.find((c) => c.name === "min.insync.replicas")?.value).toBe("2");
    });

    const events = await watchSagaEvents(kafka, world.codec, name);
    // One saga end to end first: the cold path (JIT, schema caches, connections to every
    // leader) is not what this test measures, and under load it alone outlasted a step timeout.
    const [warmUp] = orders(ORDERS + 1).slice(-1);
    if (warmUp === undefined) throw new Error("no warm-up order");
    await orderService.place(warmUp);
    await waitUntil(() => (events.ended() > 0 ? true : undefined), {
      timeoutMs: 120_000,
      intervalMs: 200,
      description: "the warm-up saga to end",
    });
    const placed = orders(ORDERS);
    const placing = placeSteadily(orderService, placed, ORDERS_PER_SECOND);
    const whenEnded = (count: number, description: string, timeoutMs = 120_000) =>
      waitUntil(() => (events.ended() >= count ? true : undefined), {
        timeoutMs,
        intervalMs: 200,
        description,
      }).catch((error: unknown) => {
        throw new Error(`${String(error)}\n${notEnded(placed, events)}`);
      });
    try {
      await whenEnded(1 + ORDERS / 5, "a fifth of the sagas to end before the first kill");
      const first = await busiestLeader(kafka, topics.events);
      process.stderr.write(`broker faults: ${first} killed at ${clock()}\n`);
      const endedAtFirst = events.ended();
      await killBroker(first);
      await stack.up({ dr: false, only: [first] });
      process.stderr.write(`broker faults: ${first} killed and restarted at ${clock()}\n`);

      await waitFullyReplicated(kafka);
      await whenEnded(endedAtFirst + ORDERS / 10, "sagas to go on ending after the restart");
      const second = BROKERS.find((b) => b !== first) ?? "kafka-2";
      const endedAtSecond = events.ended();
      process.stderr.write(`broker faults: ${second} killed at ${clock()}\n`);
      await killBroker(second);
      await sleep(DOWN_MS);
      const endedWhileDown = events.ended() - endedAtSecond;
      await stack.up({ dr: false, only: [second] });
      process.stderr.write(`broker faults: ${second} back at ${clock()}\n`);

      await placing;
      await whenEnded(1 + ORDERS, `all ${ORDERS} sagas to end`, 300_000);
      expect(endedAtFirst).toBeLessThan(ORDERS); // the faults came mid-run
      expect(endedWhileDown).toBeGreaterThan(0); // two brokers of three keep the engine going
      const outcome = await expectOrderOutcomes(
        world.pool,
        services.schemas,
        faults,
        placed,
        events,
      );
      process.stderr.write(
        `broker faults: ${JSON.stringify(outcome)}; ${endedAtFirst} had ended at the first kill, ` +
          `${endedWhileDown} ended while ${second} was down\n`,
      );
    } finally {
      await placing.catch(() => undefined);
      await events.stop();
    }
  }, 600_000);
});
