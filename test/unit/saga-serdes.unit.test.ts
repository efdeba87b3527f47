/**
 * The engine's Avro messages: every saga event type (in a saga-events record, one per
 * decision), a command, a reply and both operator requests survive the trip through their
 * registered schemas (an in-memory registry stands in for the real one, which the integration
 * tests use); a log written before decisions (one record per event) still reads.
 */
import avro from "avsc";
import type { SchemaRegistry } from "@kafkajs/confluent-schema-registry";
import { describe, expect, it } from "vitest";
import {
  avroSagaSerdes,
  SAGA_NAMESPACE,
  sagaDecisionReader,
  type SagaCommand,
  type SagaEvent,
  type SagaRecord,
  type SagaReply,
  sagaRecordSerde,
} from "../../src/saga/index.js";
import { legacySagaEventSchema } from "../../src/saga/avro-schemas.js";
import { AvroCodec } from "../../src/schema/index.js";

/** Just what AvroCodec asks of a registry: register a schema, look one up by id. */
function memoryRegistry(): SchemaRegistry {
  const ids = new Map<string, number>();
  const schemas: string[] = [];
  return {
    register: ({ schema }: { schema: string }) => {
      let id = ids.get(schema);
      if (id === undefined) {
        id = schemas.push(schema);
        ids.set(schema, id);
      }
      return Promise.resolve({ id });
    },
    getSchema: (id: number) =>
      Promise.resolve(avro.Type.forSchema(JSON.parse(schemas[id - 1] ?? "null") as avro.Schema)),
  } as unknown as SchemaRegistry;
}

const at = 1_700_000_000_123;
const data = { orderId: "o-1", amountCents: 4200, lines: [{ sku: "a", qty: 2 }], note: null };

/** One event of each type: the compiler checks that none is missing. */
const oneOfEach: { [T in SagaEvent["type"]]: Extract<SagaEvent, { type: T }> } = {
  SagaStarted: {
    type: "SagaStarted",
    at,
    sagaType: "order",
    version: 2,
    data,
    fingerprint: "0123456789abcdef",
  },
  CommandIssued: {
    type: "CommandIssued",
    at,
    step: "payment",
    action: "do",
    attempt: 1,
    participant: "payment",
    command: { type: "ChargePayment", payload: { orderId: "o-1", amountCents: 4200 } },
    timeoutAt: at + 30_000,
  },
  StepSucceeded: {
    type: "StepSucceeded",
    at,
    step: "payment",
    result: { paymentId: "p-9" },
    data: { ...data, paymentId: "p-9" },
  },
  StepFailed: { type: "StepFailed", at, step: "inventory", reason: "out of stock" },
  StepTimedOut: { type: "StepTimedOut", at, step: "inventory", action: "undo", attempt: 3 },
  RetryScheduled: {
    type: "RetryScheduled",
    at,
    step: "inventory",
    action: "do",
    attempt: 2,
    retryAt: at + 200,
    reason: "timeout",
  },
  CompensationStarted: { type: "CompensationStarted", at, reason: "cancelled", cancelled: true },
  StepCompensated: { type: "StepCompensated", at, step: "payment" },
  SagaCompleted: { type: "SagaCompleted", at },
  SagaAborted: { type: "SagaAborted", at },
  SagaCancelled: { type: "SagaCancelled", at },
  SagaFailed: { type: "SagaFailed", at, step: "payment", action: "undo", reason: "card gone" },
  RetryRequested: { type: "RetryRequested", at },
};

describe("the engine's Avro serdes", () => {
  it("round-trip every saga event type; another process reads them by schema id", async () => {
    const registry = memoryRegistry();
    const serdes = await avroSagaSerdes(new AvroCodec(registry), "shop", ["payment"]);
    const read = sagaDecisionReader(new AvroCodec(registry)); // knows no schema until it reads
    const events = Object.values(oneOfEach);
    expect(events).toHaveLength(13);
    const { type, at: startedAt, sagaType, version } = oneOfEach.SagaStarted;
    const unfingerprinted = { type, at: startedAt, sagaType, version, data }; // as before them
    for (const decision of [
      { sagaId: "s-1", firstSeq: 1, events },
      { sagaId: "s-0", firstSeq: 1, events: [unfingerprinted] },
      ...events.map((event, i) => ({ sagaId: "s-2", firstSeq: i + 1, events: [event] })),
    ]) {
      const bytes = serdes.decision.serialize(decision);
      expect(bytes[0]).toBe(0); // Confluent wire format: magic byte, then the schema id
      expect(serdes.decision.deserialize(bytes)).toEqual(decision);
      expect(await read(bytes)).toEqual(decision);
    }
  });

  it("reads a log written one record per event (SagaEventRecord) as decisions of one event", async () => {
    const registry = memoryRegistry();
    const codec = new AvroCodec(registry);
    const legacyId = await codec.register(
      "shop.saga-events-io.sagastream.saga.SagaEventRecord",
      legacySagaEventSchema,
    );
    const read = sagaDecisionReader(new AvroCodec(registry));
    const bytes = await codec.encode(legacyId, {
      sagaId: "s-1",
      seq: 7,
      event: { [`${SAGA_NAMESPACE}.StepFailed`]: { at, step: "inventory", reason: "none left" } },
    });
    expect(await read(bytes)).toEqual({
      sagaId: "s-1",
      firstSeq: 7,
      events: [{ ...oneOfEach.StepFailed, reason: "none left" }],
    });
  });

  it("round-trip commands, replies and operator requests", async () => {
    const serdes = await avroSagaSerdes(new AvroCodec(memoryRegistry()), "shop", ["payment"]);
    const command: SagaCommand = {
      sagaId: "s-1",
      sagaType: "order",
      version: 1,
      step: "payment",
      action: "undo",
      attempt: 2,
      round: 1,
      type: "RefundPayment",
      payload: { orderId: "o-1", paymentId: "p-9", nested: { a: [1, 2] } },
    };
    const commandSerde = serdes.command("payment");
    expect(commandSerde.deserialize(commandSerde.serialize(command))).toEqual(command);
    expect(() => serdes.command("shipping")).toThrow(/shipping/);
    // Two participants in one process share a codec (regression: "invalid resolver").
    const codec = new AvroCodec(memoryRegistry());
    const [payment, inventory] = await Promise.all(
      ["payment", "inventory"].map(async (p) =>
        (await avroSagaSerdes(codec, "shop", [p])).command(p),
      ),
    );
    for (const own of [payment, inventory, payment]) {
      expect(own?.deserialize(own.serialize(command))).toEqual(command);
    }
    const reply: SagaReply = {
      sagaId: "s-1",
      step: "payment",
      action: "do",
      attempt: 1,
      outcome: "failure",
      retriable: true,
      reason: "downstream unavailable",
      result: { code: "503" },
      retryAfterMs: 12_000,
    };
    expect(serdes.reply.deserialize(serdes.reply.serialize(reply))).toEqual(reply);
    // A participant that says nothing of when to retry (written before the field existed).
    const older: SagaReply = { ...reply };
    delete older.retryAfterMs;
    expect(serdes.reply.deserialize(serdes.reply.serialize(older))).toEqual({
      ...older,
      retryAfterMs: 0,
    });
    for (const control of [
      { type: "Cancel", reason: "customer asked" },
      { type: "Retry" },
    ] as const) {
      expect(serdes.control.deserialize(serdes.control.serialize(control))).toEqual(control);
    }
  });

  it("refuses a reply whose result is not strings, naming the field", async () => {
    const serdes = await avroSagaSerdes(new AvroCodec(memoryRegistry()), "shop", []);
    const reply = {
      sagaId: "s",
      step: "a",
      action: "do",
      attempt: 1,
      outcome: "success",
      retriable: false,
      reason: "",
      result: { n: 1 },
    };
    expect(() => serdes.reply.serialize(reply as unknown as SagaReply)).toThrow(
      "cannot encode a io.sagastream.saga.SagaReply for shop.replies: result.n (1) is not a valid string",
    );
  });
});

describe("the saga state store's records", () => {
  const record: SagaRecord = {
    sagaId: "s-1",
    seq: 9,
    correlationId: "s-1",
    traceparent: undefined,
    state: {
      sagaType: "order",
      version: 1,
      status: "COMPENSATING",
      data: { orderId: "o-1" },
      reason: "refused",
      cancelled: false,
      failed: undefined,
      startedAt: at,
      updatedAt: at + 5,
      steps: {
        reserve: {
          phase: "undoing",
          attempt: 2,
          budgetFrom: 1,
          inFlight: true,
          timeoutAt: at + 1_000,
          retryAt: undefined,
          issuedAt: at,
          maybeDone: true,
          result: { reservation: "r-1" },
        },
        charge: {
          phase: "failed",
          attempt: 1,
          budgetFrom: 0,
          inFlight: false,
          timeoutAt: at + 2_000,
          retryAt: undefined,
          issuedAt: at,
          maybeDone: false,
          result: undefined,
        },
      },
    },
  };
  const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

  it("leave out what holds its usual value, and read back the same record", () => {
    const bytes = sagaRecordSerde.serialize(record);
    expect(plain(sagaRecordSerde.deserialize(bytes))).toEqual(plain(record));
    const other = { ...record, correlationId: "c-7", traceparent: "00-abc-def-01" };
    const cancelled = { ...other, state: { ...other.state, cancelled: true } };
    expect(sagaRecordSerde.deserialize(sagaRecordSerde.serialize(cancelled))).toEqual(cancelled);
    expect(bytes.length).toBeLessThan(Buffer.from(JSON.stringify(record)).length - 60);
  });

  it("read records written in full (before they were compacted)", () => {
    const full = Buffer.from(JSON.stringify(record));
    expect(plain(sagaRecordSerde.deserialize(full))).toEqual(plain(record));
  });
});
