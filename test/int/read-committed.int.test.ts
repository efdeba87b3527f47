/**
 * The runtime's read path (KafkaPartitionFetcher) is read_committed the way the Java consumer
 * is: every committed record of a transactional producer is read, whatever that producer
 * aborted before and after it on the same partition. Regression: @platformatic/kafka's
 * consumer filters a read_committed response itself and ends a producer's aborted range at its
 * last abort marker in the response; an abort with no records on the partition (the broker does
 * not list it) after a commit made that commit's records vanish. A SIGKILL test lost 5,368
 * committed outputs this way: a new worker's producer aborted its predecessor's transaction,
 * which had added the partition but written nothing to it yet.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  createConsumer,
  createProducer,
  ensureTopics,
  withAdmin,
  type KafkaProducer,
  type KafkaSettings,
} from "../../src/kafka/index.js";
import { KafkaPartitionFetcher } from "../../src/topology/partition-fetcher.js";
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
  producer = createProducer(settings, { transactionalId: uniqueName("read_committed_tx") });
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

describe("the runtime's read_committed fetcher", () => {
  it("reads every committed record of a producer that aborts before and after them, one abort holding no record of the partition", async () => {
    await transaction(["aborted-1"], "abort");
    await transaction(["committed-1", "committed-2"], "commit");
    await transaction(["x".repeat(MAX_MESSAGE_BYTES * 2)], "abort"); // an abort marker, no records

    const consumer = createConsumer(settings, { groupId: uniqueName("read_committed_reader") });
    const fetcher = new KafkaPartitionFetcher(consumer);
    try {
      const values: string[] = [];
      let offset = 0n;
      for (let fetches = 0; fetches < 20 && values.length < 2; fetches++) {
        for (const fetched of await fetcher.fetch([{ topic, partition: 0, offset }], 200)) {
          values.push(...fetched.records.map((r) => String(r.value)));
          offset = fetched.next;
        }
      }
      expect(values).toEqual(["committed-1", "committed-2"]);
    } finally {
      await consumer.close();
    }
  });
});
