/**
 * Inputs that stopped a partition, on the real stack (issue 12's review), each followed by a
 * good input on the same partition that must still run: a duplicated start on a partition its
 * saga id does not hash to, a value with a schema id the registry does not know, a start whose
 * data is over the saga limits, one whose records would be larger than the broker takes, and a
 * registry that cannot be reached for a while (through a proxy this test takes down and up).
 */
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import avro from "avsc";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ErrorCode } from "../../src/errors/index.js";
import {
  createProducer,
  DLQ_HEADERS,
  partitionForKey,
  type KafkaProducer,
  type KafkaSettings,
} from "../../src/kafka/index.js";
import { createLogger } from "../../src/log/index.js";
import { defineSaga, sagaTopics, step } from "../../src/saga/index.js";
import {
  AvroCodec,
  avroSerde,
  createSchemaRegistry,
  toWireFormat,
} from "../../src/schema/index.js";
import { waitUntil } from "../../src/util/index.js";
import { SagaWorker } from "../../src/worker/index.js";
import { uniqueName } from "../support/names.js";
import { readTopic, type ReadRecord } from "../support/read-topic.js";

const connections = inject("connections");
const name = uniqueName("poison");
const startTopic = `${name}.holds`;
const PARTITIONS = 2;
const kafka: KafkaSettings = {
  brokers: connections.kafkaBrokers,
  clientId: `${name}-test`,
  logger: createLogger("warn", "poison-test"),
};

interface Hold {
  id: string;
  note: string;
}
const v1: avro.schema.RecordType = {
  type: "record",
  name: "HoldPlaced",
  namespace: "dev.sagastream.test",
  fields: [
    { name: "id", type: "string" },
    { name: "note", type: "string" },
  ],
};
const v2 = { ...v1, fields: [...v1.fields, { name: "priority", type: "int", default: 0 }] };

/** One step that waits a minute for a participant that never answers: sagas stay RUNNING. */
const holdSaga = defineSaga<Hold>({
  name: "hold",
  version: 1,
  participants: ["holder"],
  stages: [
    step({
      name: "hold",
      participant: "holder",
      // Four copies of the note: a 200 KB note makes a decision record of 1 MB.
      command: (h) => ({ type: "Hold", payload: { id: h.id, copies: h.note.repeat(4) } }),
      retriableOnly: true,
      timeoutMs: 60_000,
    }),
  ],
});

/** A TCP proxy to the registry, to take it out of the worker's reach and back. */
class RegistryProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly target: URL) {}

  async up(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(Number(this.target.port), this.target.hostname);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on("close", () => this.sockets.delete(socket));
        socket.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, "127.0.0.1", resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  }

  url(): string {
    return `http://127.0.0.1:${this.port}${this.target.pathname}`;
  }
}

const registryUrl = new URL(connections.schemaRegistryUrl);
const proxy = new RegistryProxy(registryUrl);
const direct = new AvroCodec(createSchemaRegistry(connections.schemaRegistryUrl));
let v1Id = 0;
let stateDir = "";
let producer: KafkaProducer;
let worker: SagaWorker;

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), "saga-poison-"));
  await proxy.up();
  const codec = new AvroCodec(createSchemaRegistry(proxy.url()));
  v1Id = await direct.register(`${startTopic}-value`, v1);
  worker = new SagaWorker({
    applicationId: name,
    brokers: connections.kafkaBrokers,
    sagas: [holdSaga],
    starts: [
      {
        topic: startTopic,
        saga: "hold",
        valueSerde: avroSerde<Hold>(codec, { reader: avro.Type.forSchema(v1) }),
        data: (h: Hold) => ({ id: h.id, note: h.note }),
      },
    ],
    stateDir,
    partitions: PARTITIONS,
    codec,
    logger: createLogger("error", "poison-worker"),
  });
  await worker.start();
  producer = createProducer(kafka);
});

afterAll(async () => {
  await producer.close();
  await worker.stop();
  await proxy.down();
  await rm(stateDir, { recursive: true, force: true });
});

/** A saga id whose home partition is `partition`, made from `prefix`. */
function idOn(partition: number, prefix: string): string {
  for (let i = 0; ; i++) {
    const id = `${prefix}-${i}`;
    if (partitionForKey(Buffer.from(id), PARTITIONS) === partition) return id;
  }
}

async function send(key: string, value: Buffer, partition?: number): Promise<void> {
  await producer.send({
    messages: [
      {
        topic: startTopic,
        key,
        value,
        partition: partition ?? partitionForKey(Buffer.from(key), PARTITIONS),
      },
    ],
  });
}

function hold(id: string, note = "n", schemaId = v1Id): Promise<Buffer> {
  return direct.encode(schemaId, { id, note, priority: 1 });
}

/** The saga's status from the worker's API once it has one (404 until then). */
function runningSaga(id: string): Promise<string> {
  return waitUntil(
    async () => {
      const response = await fetch(`${worker.apiAddress}/sagas/${id}?history=false`);
      if (response.status !== 200) return undefined;
      return ((await response.json()) as { status: string }).status;
    },
    { timeoutMs: 60_000, intervalMs: 200, description: `saga ${id} to be running` },
  );
}

const deadLetters = (count: number): Promise<ReadRecord[]> =>
  readTopic(kafka, `${name}.dlq`, count, { timeoutMs: 60_000 });

function reasonsOf(records: readonly ReadRecord[]): Map<string, string> {
  return new Map(
    records.map((r) => [
      r.key ?? "",
      `${r.headers[DLQ_HEADERS.code] ?? ""} ${r.headers[DLQ_HEADERS.error] ?? ""}`,
    ]),
  );
}

describe("inputs that stopped a partition", () => {
  it("runs a saga once when its start is also sent to a partition its id does not hash to", async () => {
    const id = idOn(0, "dup");
    await send(id, await hold(id));
    await send(id, await hold(id), 1); // a producer with another partitioner
    expect(await runningSaga(id)).toBe("RUNNING");
    const [dead] = await deadLetters(1);
    expect(dead?.key).toBe(id);
    expect(dead?.headers[DLQ_HEADERS.code]).toBe(ErrorCode.RecordMisplaced);
    expect(dead?.headers[DLQ_HEADERS.partition]).toBe("1");
    // One start, one command: the misplaced copy made nothing.
    const commands = await readTopic(kafka, sagaTopics(name).commands("holder"), 1);
    expect(commands.map((c) => c.key)).toEqual([id]);
  });

  it("dead-letters values it can never take and goes on with their partition", async () => {
    const unknownSchema = idOn(1, "unknown");
    await send(unknownSchema, toWireFormat(987_654_321, Buffer.from([2, 3])));
    const overLimit = idOn(1, "big");
    await send(overLimit, await hold(overLimit, "x".repeat(300_000)));
    const tooLarge = idOn(1, "wide");
    await send(tooLarge, await hold(tooLarge, "y".repeat(200_000)));
    const after = idOn(1, "after");
    await send(after, await hold(after));
    expect(await runningSaga(after)).toBe("RUNNING");

    const reasons = reasonsOf(await deadLetters(4));
    expect(reasons.get(unknownSchema)).toMatch(/^SCHEMA_UNKNOWN schema id 987654321 is unknown/);
    expect(reasons.get(overLimit)).toMatch(
      /^SAGA_LIMIT_EXCEEDED saga big-\d+: its data is 300\d+ bytes, more than the limit of 262144/,
    );
    expect(reasons.get(tooLarge)).toMatch(
      new RegExp(
        `^RECORD_TOO_LARGE .* would make a record of 1\\d{6} bytes for ${name}\\.saga-events`,
      ),
    );
  });

  it("retries in place while the registry is out of reach, says so in /health, and the other partition goes on", async () => {
    await proxy.down();
    const v2Id = await direct.register(`${startTopic}-value`, v2); // unknown to the worker
    const waiting = idOn(0, "late");
    await send(waiting, await hold(waiting, "n", v2Id));
    const other = idOn(1, "other");
    await send(other, await hold(other)); // its schema is known: no registry needed
    expect(await runningSaga(other)).toBe("RUNNING");
    const stuck = await waitUntil(
      async () => {
        const health = (await (await fetch(`${worker.apiAddress}/health`)).json()) as {
          stuck: { where: string; reason: string }[];
        };
        return health.stuck.length > 0 ? health.stuck : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, description: "/health to list the waiting partition" },
    );
    expect(stuck).toEqual([
      {
        where: `${startTopic}/0`,
        seconds: expect.any(Number) as number,
        reason: expect.stringMatching(/registry could not be asked for schema id/) as string,
      },
    ]);

    await proxy.up();
    expect(await runningSaga(waiting)).toBe("RUNNING");
    const health = await waitUntil(
      async () => {
        const response = await fetch(`${worker.apiAddress}/health`);
        const body = (await response.json()) as { status: string; stuck: unknown[] };
        return body.stuck.length === 0 ? { code: response.status, ...body } : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, description: "/health to list nothing stuck" },
    );
    expect(health).toMatchObject({ code: 200, status: "ok" });
    // Nothing more was dead-lettered: the waiting start was taken, not given up.
    const metrics = await (await fetch(`${worker.apiAddress}/metrics`)).text();
    expect(metrics).toMatch(/^sagastream_dead_letters 4$/m);
  });
});
