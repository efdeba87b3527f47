import { describe, expect, it } from "vitest";
import { WireFormatError } from "../../src/errors/index.js";
import { fromWireFormat, toWireFormat } from "../../src/schema/index.js";

describe("Confluent wire format", () => {
  it("puts magic byte 0 and the big-endian schema id before the body, and reads them back", () => {
    const bytes = toWireFormat(258, Buffer.from([7, 8]));
    expect([...bytes]).toEqual([0, 0, 0, 1, 2, 7, 8]);
    expect(fromWireFormat(bytes)).toEqual({ schemaId: 258, body: Buffer.from([7, 8]) });
  });

  it("names the record when the magic byte is wrong", () => {
    const origin = { topic: "orders", partition: 3, offset: "42" };
    expect(() => fromWireFormat(Buffer.from([1, 0, 0, 0, 1, 9]), origin)).toThrow(WireFormatError);
    expect(() => fromWireFormat(Buffer.from([1, 0, 0, 0, 1, 9]), origin)).toThrow(
      /record orders\/3@42\): unknown magic byte 1 \(expected 0\)/,
    );
  });

  it("rejects values shorter than the header", () => {
    expect(() => fromWireFormat(Buffer.from([0, 0, 1]))).toThrow(
      /3 bytes is shorter than the 5-byte header/,
    );
  });
});
