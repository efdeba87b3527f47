/**
 * The schema registry (Apicurio, Confluent-compatible API) through our registry client:
 * register an Avro schema, fetch it by id, and round-trip a record in the Confluent wire format.
 */
import { afterAll, describe, expect, inject, it } from "vitest";
import { createSchemaRegistry, SchemaType } from "../../src/schema/index.js";
import { uniqueName } from "../support/names.js";

const { schemaRegistryUrl } = inject("connections");
const registry = createSchemaRegistry(schemaRegistryUrl);
const subject = `${uniqueName("orders")}-value`;

const orderPlacedV1 = {
  type: "record",
  name: "OrderPlaced",
  namespace: "dev.sagastream.test",
  fields: [
    { name: "orderId", type: "string" },
    { name: "amountCents", type: "long" },
  ],
};

afterAll(async () => {
  await fetch(`${schemaRegistryUrl}/subjects/${subject}`, { method: "DELETE" });
});

describe("schema registry", () => {
  it("registers an Avro schema, serves it by id and by subject, and round-trips a record", async () => {
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(orderPlacedV1) },
      { subject },
    );
    expect(id).toBeGreaterThan(0);

    const fetched = (await registry.getSchema(id)) as { name?: string };
    expect(fetched.name).toBe("dev.sagastream.test.OrderPlaced");
    expect(await registry.getLatestSchemaId(subject)).toBe(id);

    const order = { orderId: "o-1", amountCents: 12_345 };
    const bytes = await registry.encode(id, order);
    expect(bytes[0]).toBe(0); // magic byte
    expect(bytes.readInt32BE(1)).toBe(id); // schema id, big-endian
    expect(await registry.decode(bytes)).toEqual(order);
  });

  it("registers a compatible new version under the same subject with a new id", async () => {
    const v2 = {
      ...orderPlacedV1,
      fields: [...orderPlacedV1.fields, { name: "currency", type: "string", default: "EUR" }],
    };
    const v1Id = await registry.getLatestSchemaId(subject);
    const { id: v2Id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(v2) },
      { subject },
    );
    expect(v2Id).not.toBe(v1Id);
    expect(await registry.getLatestSchemaId(subject)).toBe(v2Id);
    // A record written with v1 still decodes (by its writer's id) after v2 is registered.
    const old = await registry.encode(v1Id, { orderId: "o-2", amountCents: 1 });
    expect(await registry.decode(old)).toEqual({ orderId: "o-2", amountCents: 1 });
  });
});
