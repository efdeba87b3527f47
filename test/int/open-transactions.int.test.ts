/**
 * A transaction a dead worker left open on a changelog is aborted at once by the task's next
 * owner (InitProducerId with its transactional id), rather than after the broker's timeout and
 * periodic check (10–20 s, which a failover waited); a committed one, one written to just now
 * (a live worker's commit under way) and the worker's own are left alone.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  createConsumer,
  createProducer,
  ensureTopics,
  withAdmin,
  type KafkaConsumer,
  type KafkaProducer,
  type KafkaSettings,
} from "../../src/kafka/index.js";
import { createLogger } from "../../src/log/index.js";
import {
  fenceTransactionalId,
  LIVE_WRITE_MS,
  OpenTransactions,
} from "../../src/topology/open-transactions.js";
import { KafkaPartitionOffsets } from "../../src/topology/partition-offsets.js";
import { GroupCoordinator } from "../../src/topology/group-coordinator.js";
import { waitUntil } from "../../src/util/index.js";
import { uniqueName } from "../support/names.js";

const { kafkaBrokers } = inject("connections");
const settings: KafkaSettings = { brokers: kafkaBrokers, clientId: "open-transactions-test" };
const topic = uniqueName("open_txn_changelog");
const partitions = [{ topic, partition: 0 }];
const deadId = uniqueName("dead_worker_tx");
let dead: KafkaProducer;
let committer: KafkaProducer;
let consumer: KafkaConsumer;
let offsets: KafkaPartitionOffsets;
let coordinator: GroupCoordinator;

beforeAll(async () => {
  await withAdmin(settings, (admin) => ensureTopics(admin, [{ topic, partitions: 1 }]));
  committer = createProducer(settings, { transactionalId: uniqueName("live_worker_tx") });
  const committed = await committer.beginTransaction();
  await committed.send({ messages: [{ topic, partition: 0, key: "k1", value: Buffer.from("1") }] });
  await committed.commit();
  // A worker killed mid-commit: its transaction wrote to the changelog and never ended.
  dead = createProducer(settings, { transactionalId: deadId });
  const open = await dead.beginTransaction();
  await open.send({ messages: [{ topic, partition: 0, key: "k2", value: Buffer.from("2") }] });
  consumer = createConsumer(settings, { groupId: uniqueName("open_txn_reader") });
  const client = consumer as unknown as ConstructorParameters<typeof KafkaPartitionOffsets>[0];
  coordinator = new GroupCoordinator(client, "open-transactions-test");
  offsets = new KafkaPartitionOffsets(client, coordinator, "unused");
});

afterAll(async () => {
  await dead.close(true).catch(() => undefined);
  await committer.close();
  await coordinator.close();
  await consumer.close(true);
});

function openTransactions(ownTransactionalId: string | undefined): OpenTransactions {
  return new OpenTransactions({
    consumer,
    clientId: "open-transactions-test",
    ownTransactionalId,
    fence: (transactionalId) =>
      fenceTransactionalId(
        { clientId: "open-transactions-test", bootstrapBrokers: kafkaBrokers },
        transactionalId,
        10_000,
      ),
    logger: createLogger("silent", "test"),
  });
}

describe("transactions left open on a changelog", () => {
  it("aborts the one a dead worker left open, at once, and nothing else (not a live worker's commit under way, nor its own)", async () => {
    const key = `${topic}/0`;
    const [stable, written] = await Promise.all([
      offsets.end(partitions),
      offsets.latest(partitions),
    ]);
    expect(stable.get(key)).toBeLessThan(written.get(key) ?? 0n); // held back by the open one

    // Just written to: taken for a live worker finishing its commit as it hands the task over.
    const early = openTransactions(undefined);
    expect(await early.abortOngoing(partitions)).toEqual([]);
    await early.close();
    await sleep(LIVE_WRITE_MS); // the fault's age: a dead worker's transaction is older than this

    const own = openTransactions(deadId);
    expect(await own.abortOngoing(partitions)).toEqual([]); // a worker never fences itself
    await own.close();

    const next = openTransactions(undefined);
    const started = Date.now();
    expect(await next.abortOngoing(partitions)).toEqual([deadId]);
    await waitUntil(
      async () => {
        const [lso, hw] = await Promise.all([offsets.end(partitions), offsets.latest(partitions)]);
        return (lso.get(key) ?? 0n) >= (hw.get(key) ?? 0n) ? true : undefined;
      },
      {
        timeoutMs: 5_000,
        intervalMs: 50,
        description: "the changelog's last stable offset to reach its end",
      },
    );
    expect(Date.now() - started).toBeLessThan(5_000); // not the 10–20 s the broker takes alone
    expect(await next.abortOngoing(partitions)).toEqual([]); // nothing open any more
    await next.close();
  });
});
