import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors/index.js";
import { loadSchemaDirectory } from "../../src/schema/index.js";

const record = (name: string, namespace = "dev.test") =>
  JSON.stringify({ type: "record", name, namespace, fields: [{ name: "id", type: "string" }] });

const made: string[] = [];
async function files(contents: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "schemas-"));
  made.push(dir);
  for (const [file, text] of Object.entries(contents)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), text);
  }
  return dir;
}

afterEach(async () => {
  for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe("loadSchemaDirectory", () => {
  it("names each schema's subject after its topic folder and record full name", async () => {
    const loaded = await loadSchemaDirectory(
      await files({
        "orders/OrderPlaced.avsc": record("OrderPlaced"),
        "orders/OrderCancelled.avsc": record("OrderCancelled", "dev.other"),
        "payments/PaymentTaken.avsc": record("PaymentTaken"),
        "orders/README.md": "not a schema",
      }),
    );
    expect(loaded.map((f) => [f.file, f.subject])).toEqual([
      ["orders/OrderCancelled.avsc", "orders-dev.other.OrderCancelled"],
      ["orders/OrderPlaced.avsc", "orders-dev.test.OrderPlaced"],
      ["payments/PaymentTaken.avsc", "payments-dev.test.PaymentTaken"],
    ]);
  });

  it("refuses a schema outside a topic folder, invalid Avro, and a non-record", async () => {
    await expect(
      loadSchemaDirectory(await files({ "Loose.avsc": record("Loose") })),
    ).rejects.toThrow(/put each schema in a folder named after its topic/);
    await expect(
      loadSchemaDirectory(await files({ "t/Bad.avsc": '{"type": "record", "name": "Bad"}' })),
    ).rejects.toThrow(/t\/Bad.avsc is not a valid Avro schema/);
    await expect(loadSchemaDirectory(await files({ "t/S.avsc": '"string"' }))).rejects.toThrow(
      UsageError,
    );
    await expect(loadSchemaDirectory("/no/such/dir")).rejects.toThrow(
      /cannot read the schema directory/,
    );
  });

  it("loads the project's own schemas/", async () => {
    const own = await loadSchemaDirectory("schemas");
    expect(own.length).toBeGreaterThan(0);
    expect(own.map((f) => f.subject)).toContain(
      "outbox.event.order-dev.sagastream.examples.order.OrderPlaced",
    );
  });
});
