/**
 * `sagastream dlq list | show | redrive` on the real stack, over a dead-letter topic holding
 * garbage, a record of a schema id the registry does not know, and a good Avro record: each
 * listed with its reason and origin, decoded where it decodes; a re-drive sends the record
 * back to its origin partition with its headers and one naming the re-drive, and refuses a
 * second one unless forced.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ExitCode } from "../../src/cli/exit-codes.js";
import {
  DeserializationError,
  ProcessingError,
  SchemaUnknownError,
  type SagastreamError,
} from "../../src/errors/index.js";
import {
  createAdmin,
  createProducer,
  deadLetterHeaders,
  deadLetterTopic,
  ensureTopics,
  type KafkaAdmin,
  type KafkaSettings,
} from "../../src/kafka/index.js";
import { AvroCodec, createSchemaRegistry } from "../../src/schema/index.js";
import { uniqueName } from "../support/names.js";
import { readTopic } from "../support/read-topic.js";
import { runCli, type CliRun } from "../support/run-cli.js";

const connections = inject("connections");
const app = uniqueName("dlq");
const dlq = deadLetterTopic(app);
const input = `${app}.in`;
const other = `${app}.other`;
const kafka: KafkaSettings = { brokers: connections.kafkaBrokers, clientId: `${app}-test` };
let admin: KafkaAdmin;
let good: Buffer;

function cli(...args: string[]): Promise<CliRun> {
  return runCli(args, {
    KAFKA_BROKERS: connections.kafkaBrokers.join(","),
    SCHEMA_REGISTRY_URL: connections.schemaRegistryUrl,
  });
}

async function listed(...filters: string[]): Promise<Record<string, unknown>[]> {
  const ran = await cli("dlq", "list", dlq, "--json", ...filters);
  expect(ran.code, ran.stderr).toBe(0);
  return ran.stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

beforeAll(async () => {
  admin = createAdmin(kafka);
  await ensureTopics(admin, [
    { topic: dlq, partitions: 1 },
    { topic: input, partitions: 1 },
    { topic: other, partitions: 2 },
  ]);
  const codec = new AvroCodec(createSchemaRegistry(connections.schemaRegistryUrl));
  const schemaId = await codec.register(`${other}-value`, {
    type: "record",
    name: "PaymentTaken",
    namespace: "shop.test",
    fields: [
      { name: "orderId", type: "string" },
      { name: "amountCents", type: "long" },
    ],
  });
  good = await codec.encode(schemaId, { orderId: "order-7", amountCents: 1250 });
  // magic byte 0, a schema id no registry gave out, then bytes
  const unknownId = Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0]), Buffer.from("x")]);
  const letter = (
    value: Buffer,
    error: SagastreamError,
    origin: { topic: string; partition: number; offset: string },
    headers: Record<string, string> = {},
  ) => ({
    topic: dlq,
    key: Buffer.from(`key-${origin.offset}`),
    value,
    headers: deadLetterHeaders(headers, error, origin),
  });
  const producer = createProducer(kafka);
  try {
    const at = (topic: string, partition: number, offset: string) => ({
      topic,
      partition,
      offset,
    });
    await producer.send({
      messages: [
        letter(
          Buffer.from("not avro at all"),
          new DeserializationError(at(input, 0, "5"), new Error("no magic byte")),
          at(input, 0, "5"),
        ),
        letter(unknownId, new SchemaUnknownError(0x7ffffff0, at(input, 0, "6")), at(input, 0, "6")),
        letter(
          good,
          new ProcessingError(at(other, 1, "7"), "charge", new Error("card declined")),
          at(other, 1, "7"),
          { trace: "abc" },
        ),
      ],
    });
  } finally {
    await producer.close();
  }
});

afterAll(async () => {
  await admin
    .deleteTopics({ topics: [dlq, `${dlq}.redrives`, input, other] })
    .catch(() => undefined);
  await admin.close();
});

describe("sagastream dlq", () => {
  it("lists each dead letter with its reason and origin, decoded where it decodes", async () => {
    const all = await listed();
    expect(all.map((l) => l.offset)).toEqual(["0", "1", "2"]);
    const [garbage, unknown, decoded] = all;
    expect(garbage?.code).toBe("DESERIALIZATION_FAILED");
    expect(garbage?.origin).toEqual({ topic: input, partition: 0, offset: "5" });
    expect(garbage?.decodes).toBe(false);
    expect(garbage?.undecodable).toMatch(/wire format/);
    expect(unknown?.code).toBe("SCHEMA_UNKNOWN");
    expect(unknown?.decodes).toBe(false);
    expect(unknown?.undecodable).toContain(String(0x7ffffff0));
    expect(decoded?.reason).toContain("card declined");
    expect(decoded?.decodes).toBe(true);
    expect(decoded?.value).toEqual([{ orderId: "order-7", amountCents: 1250 }]);

    expect((await listed("--code", "SCHEMA_UNKNOWN")).map((l) => l.offset)).toEqual(["1"]);
    expect((await listed("--origin", other)).map((l) => l.offset)).toEqual(["2"]);
    expect(await listed("--since", "2099-01-01T00:00:00Z")).toEqual([]);

    const table = await cli("dlq", "list", dlq);
    expect(table.stdout).toContain("3 dead letter(s)");
    expect(table.stdout).toContain(`${other}/1@7`);
  });

  it("shows one in full, its headers and its record", async () => {
    const ran = await cli("dlq", "show", dlq, "2");
    expect(ran.code, ran.stderr).toBe(0);
    const shown = JSON.parse(ran.stdout) as Record<string, unknown>;
    expect(shown.headers).toMatchObject({ trace: "abc", "sagastream.dlq.topic": other });
    expect(shown.value).toEqual([
      {
        type: "PaymentTaken",
        schema: "shop.test.PaymentTaken",
        value: { orderId: "order-7", amountCents: 1250 },
      },
    ]);
    const missing = await cli("dlq", "show", dlq, "9");
    expect(missing.code).toBe(ExitCode.Usage);
    expect(missing.stderr).toContain("sagastream dlq list");
  });

  it("re-drives to the origin partition with its headers, once unless forced", async () => {
    const nothing = await cli("dlq", "redrive", dlq);
    expect(nothing.code).toBe(ExitCode.Usage);

    const first = await cli("dlq", "redrive", dlq, "--offset", "2");
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`re-drove 0:2 to ${other}/1@7`);
    const [redriven] = await readTopic(kafka, other, 1);
    expect(redriven?.partition).toBe(1);
    expect(redriven?.key).toBe("key-7");
    expect(redriven?.value?.equals(good)).toBe(true);
    expect(redriven?.headers.trace).toBe("abc");
    expect(redriven?.headers["sagastream.redrive.from"]).toBe(`${dlq}/0@2`);
    expect(
      Object.keys(redriven?.headers ?? {}).filter((h) => h.startsWith("sagastream.dlq.")),
    ).toEqual([]);

    const again = await cli("dlq", "redrive", dlq, "--offset", "2");
    expect(again.code).toBe(ExitCode.Usage);
    expect(again.stdout).toContain("refused 0:2: re-driven already");
    const [listedAfter] = await listed("--offset", "2");
    expect(listedAfter?.redriven).toMatchObject({ to: `${other}/1` });

    const forced = await cli("dlq", "redrive", dlq, "--offset", "2", "--force");
    expect(forced.code, forced.stderr).toBe(0);
    const both = await readTopic(kafka, other, 2);
    expect(both.map((r) => r.headers["sagastream.redrive.from"])).toEqual([
      `${dlq}/0@2`,
      `${dlq}/0@2`,
    ]);
  });
});
