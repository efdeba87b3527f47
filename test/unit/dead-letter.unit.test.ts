import { describe, expect, it } from "vitest";
import { DeserializationError } from "../../src/errors/index.js";
import { DLQ_HEADERS, deadLetterHeaders } from "../../src/kafka/index.js";

const origin = { topic: "orders", partition: 2, offset: "41" };
const error = new DeserializationError(origin, new Error("bad bytes"));

describe("dead-letter headers", () => {
  it.each([
    [
      "a consumed record's header map",
      new Map([
        ["id", Buffer.from("m-1")],
        ["empty", undefined],
      ]),
    ],
    [
      "a record's header object (kafkajs, the topology)",
      { id: Buffer.from("m-1"), empty: undefined },
    ],
    ["repeated kafkajs headers (the first is kept)", { id: [Buffer.from("m-1"), "m-2"] }],
  ])("copy %s and add the reason and origin", (_, headers) => {
    const dead = deadLetterHeaders(headers, error, origin);
    expect(Object.fromEntries(Object.entries(dead).map(([k, v]) => [k, v.toString()]))).toEqual({
      id: "m-1",
      [DLQ_HEADERS.code]: "DESERIALIZATION_FAILED",
      [DLQ_HEADERS.error]: "cannot decode the record at orders/2@41: bad bytes",
      [DLQ_HEADERS.topic]: "orders",
      [DLQ_HEADERS.partition]: "2",
      [DLQ_HEADERS.offset]: "41",
    });
  });
});
