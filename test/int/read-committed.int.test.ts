/**
 * The engine's readers are read_committed the way the Java consumer is: the runtime's fetcher
 * and a group member (startConsuming: participants, the saga-event followers) read every
 * committed record of a transactional producer and none of its aborted ones, whatever it
 * aborted before and after on the same partition. Regression: @platformatic/kafka's consumer
 * filters a read_committed response itself and ends a producer's aborted range at its last
 * abort marker in the response; an abort with no records on the partition (the broker does
 * not list it) after a commit made that commit's records vanish. A SIGKILL test lost 5,368
 * committed outputs this way: a new worker's producer aborted its predecessor's transaction,
 * which had added the partition but written nothing to it yet.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  createConsumer,
  createProducer,
  ensureTopics,
  startConsuming,
  withAdmin,
  type KafkaProducer,
  type KafkaSettings,
} from "../../src/kafka/index.js";
import { createLogger } from "../../src/log/index.js";
import { Serdes } from "../../src/state/index.js";
import { StreamsApp, TopologyBuilder } from "../../src/topology/index.js";
import { KafkaPartitionFetcher } from "../../src/topology/partition-fetcher.js";
import { waitUntil } from "../../src/util/index.js";
import { uniqueName } from "../support/names.js";

const { kafkaBrokers } = inject("connections");
const settings: KafkaSettings = { brokers: kafkaBrokers, clientId: "read-committed-test" };
const topic = uniqueName("read_committed");
/** Small enough that one oversized record fails after its partition joined the transaction. */
const MAX_MESSAGE_BYTES = 2000;
let producer: KafkaProducer;

beforeAll(async () => {
  await withAdmin(settings, (admin) =>
    ensureTopics(admin, [
      { topic, partitions: 1, configs: { "max.message.bytes": String(MAX_MESSAGE_BYTES) } },
    ]),
  );
  const transactionalId = uniqueName("read_committed_tx");
  producer = createProducer(settings, { transactionalId });
  await transaction(["aborted-1"], "abort");
  await transaction(["committed-1", "committed-2"], "commit");
  await transaction(["x".repeat(MAX_MESSAGE_BYTES * 2)], "abort"); // an abort marker, no records
  // The refused record leaves this producer unusable; its successor has the same producer id.
  await producer.close();
  producer = createProducer(settings, { transactionalId });
  await transaction(["committed-3"], "commit");
});

afterAll(async () => {
  await producer.close();
  await withAdmin(settings, (admin) => admin.deleteTopics({ topics: [topic] })).catch(
    () => undefined,
  );
});

async function transaction(values: string[], outcome: "commit" | "abort"): Promise<void> {
  const tx = await producer.beginTransaction();
  try {
    for (const value of values) {
      await tx.send({
        messages: [{ topic, partition: 0, key: Buffer.from("k"), value: Buffer.from(value) }],
      });
    }
  } catch {
    // the oversized record: refused after its partition joined the transaction
  }
  await (outcome === "commit" ? tx.commit() : tx.abort());
}

const COMMITTED = ["committed-1", "committed-2", "committed-3"];

describe("read_committed, with aborts before and after a commit, one holding no record of the partition", () => {
  it("the runtime's fetcher reads every committed record and no aborted one", async () => {
    const consumer = createConsumer(settings, { groupId: uniqueName("read_committed_reader") });
    const fetcher = new KafkaPartitionFetcher(consumer);
    try {
      const values: string[] = [];
      let offset = 0n;
      for (let fetches = 0; fetches < 20 && values.length < COMMITTED.length; fetches++) {
        for (const fetched of await fetcher.fetch([{ topic, partition: 0, offset }], 200)) {
          values.push(...fetched.records.map((r) => String(r.value)));
          offset = fetched.next;
        }
      }
      expect(values).toEqual(COMMITTED);
    } finally {
      await consumer.close();
    }
  });

  it("a group member (startConsuming) reads every committed record and no aborted one", async () => {
    const values: string[] = [];
    const consuming = await startConsuming(settings, {
      groupId: uniqueName("read_committed_member"),
      topics: [topic],
      handle: async (record) => {
        values.push(String(record.value));
      },
    });
    try {
      await waitUntil(() => (values.length >= COMMITTED.length ? true : undefined), {
        timeoutMs: 15_000,
        description: `${COMMITTED.length} committed records (read so far: ${values.join(", ")})`,
      }).catch(() => undefined); // the assertion below shows what was read
    } finally {
      await consuming.stop();
    }
    expect(values).toEqual(COMMITTED);
  });

  it("a StreamsApp processes every committed input record and no aborted one", async () => {
    const processed: string[] = [];
    const topology = new TopologyBuilder()
      .source("in", { topics: [topic], keySerde: Serdes.string, valueSerde: Serdes.string })
      .processor("collect", {
        parents: ["in"],
        stores: [],
        create: () => ({
          process: (record: { value: string | null }) => {
            processed.push(String(record.value));
            return Promise.resolve();
          },
        }),
      })
      .build();
    const stateDir = await mkdtemp(path.join(os.tmpdir(), "read-committed-"));
    const app = new StreamsApp({
      applicationId: uniqueName("read_committed_app"),
      brokers: kafkaBrokers,
      topology,
      stateDir,
      logger: createLogger("warn", "read-committed-app"),
    });
    await app.start();
    try {
      await waitUntil(() => (processed.length >= COMMITTED.length ? true : undefined), {
        timeoutMs: 15_000,
        description: `${COMMITTED.length} committed records processed (so far: ${processed.join(", ")})`,
      }).catch(() => undefined); // the assertion below shows what was processed
    } finally {
      await app.stop();
      await rm(stateDir, { recursive: true, force: true });
    }
    expect(processed).toEqual(COMMITTED);
  });
});
