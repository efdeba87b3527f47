/**
 * Avro with the registry through AvroCodec: a v2 reader decodes v1 records (an added field
 * with a default), an incompatible v3 is refused with a clear error, and unknown schema ids
 * and foreign bytes are typed errors that name the record.
 */
import avro from "avsc";
import { afterAll, describe, expect, inject, it } from "vitest";
import {
  RegistryUnavailableError,
  SchemaIncompatibleError,
  SchemaUnknownError,
  WireFormatError,
} from "../../src/errors/index.js";
import {
  AvroCodec,
  createSchemaRegistry,
  loadSchemaDirectory,
  registerSchemaFiles,
  toWireFormat,
} from "../../src/schema/index.js";
import { uniqueName } from "../support/names.js";

const { schemaRegistryUrl } = inject("connections");
const codec = new AvroCodec(createSchemaRegistry(schemaRegistryUrl));
const subject = `${uniqueName("orders")}-dev.sagastream.test.OrderPlaced`;

const v1: avro.schema.RecordType = {
  type: "record",
  name: "OrderPlaced",
  namespace: "dev.sagastream.test",
  fields: [
    { name: "orderId", type: "string" },
    { name: "amountCents", type: "long" },
  ],
};
const v2: avro.schema.RecordType = {
  ...v1,
  fields: [...v1.fields, { name: "currency", type: "string", default: "EUR" }],
};
// orderId changes type: records written with v2 cannot be read with v3.
const v3: avro.schema.RecordType = {
  ...v1,
  fields: [
    { name: "orderId", type: "long" },
    { name: "amountCents", type: "long" },
  ],
};

afterAll(async () => {
  await fetch(`${schemaRegistryUrl}/subjects/${subject}`, { method: "DELETE" });
});

describe("AvroCodec with the registry", () => {
  it("decodes v1 records with a v2 reader, filling the added field's default", async () => {
    const v1Id = await codec.register(subject, v1);
    const v2Id = await codec.register(subject, v2);
    expect(v2Id).not.toBe(v1Id);
    const old = await codec.encode(v1Id, { orderId: "o-1", amountCents: 500 });
    const reader = avro.Type.forSchema(v2);
    expect(await codec.decode(old, reader)).toEqual({
      orderId: "o-1",
      amountCents: 500,
      currency: "EUR",
    });
    const current = await codec.encode(v2Id, { orderId: "o-2", amountCents: 7, currency: "USD" });
    expect(await codec.decode(current, reader)).toEqual({
      orderId: "o-2",
      amountCents: 7,
      currency: "USD",
    });
  });

  it("refuses an incompatible v3 with an error that says what to do", async () => {
    const error: unknown = await codec.register(subject, v3).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaIncompatibleError);
    expect((error as Error).message).toMatch(
      new RegExp(`subject ${subject} is not BACKWARD-compatible`),
    );
  });

  it("names the record for an unknown schema id or bytes that are not Avro in the wire format", async () => {
    const origin = { topic: "orders", partition: 2, offset: "9" };
    const unknown: unknown = await codec
      .decode(toWireFormat(987_654_321, Buffer.from([2])), undefined, origin)
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(SchemaUnknownError);
    expect((unknown as SchemaUnknownError).retriable).toBe(false); // dead-lettered, not retried
    expect((unknown as Error).message).toMatch(/schema id 987654321 is unknown.*orders\/2@9/);
    await expect(codec.decode(Buffer.from("{json}"), undefined, origin)).rejects.toBeInstanceOf(
      WireFormatError,
    );
  });

  it("tells a registry it cannot reach (to wait for) from an id the registry does not know", async () => {
    // A port nothing listens on: the registry is down, the id may well exist.
    const down = new AvroCodec(createSchemaRegistry("http://127.0.0.1:9/apis/ccompat/v7"));
    const error: unknown = await down
      .decode(toWireFormat(1, Buffer.from([2])))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryUnavailableError);
    expect((error as RegistryUnavailableError).retriable).toBe(true);
    expect((error as Error).message).toMatch(/could not be asked for schema id 1 .*ECONNREFUSED/);
  });

  it("registers the project's schemas/ files idempotently and round-trips a record with them", async () => {
    const files = await loadSchemaDirectory("schemas");
    const first = await registerSchemaFiles(codec, files);
    const again = await registerSchemaFiles(codec, files);
    expect(again).toEqual(first); // same schema, same subject: same id
    const id = first.get("outbox.event.order-dev.sagastream.examples.order.OrderPlaced");
    if (id === undefined) throw new Error("OrderPlaced was not registered");
    const order = {
      orderId: "o-1",
      customerId: "c-1",
      amountCents: 4200,
      currency: "EUR",
      items: [],
    };
    expect(await codec.decode(await codec.encode(id, order))).toEqual(order);
  });
});
