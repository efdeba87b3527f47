import { describe, expect, it } from "vitest";
import {
  createRecordsBatch,
  NumericMap,
  produceV11,
  Reader,
  readRecordsBatch,
  type CreateRecordsBatchOptions,
  type MessageRecord,
} from "@platformatic/kafka";
import { createProduceRequest, encodeRecordBatch } from "../../src/kafka/record-batch.js";

/** The producer's next sequence per `topic:partition`. */
const Sequences = NumericMap;

const at = 1_764_000_000_000n;

function message(i: number, extra: Partial<MessageRecord> = {}): MessageRecord {
  return {
    topic: "t",
    partition: 2,
    key: Buffer.from(`key-${i}`),
    value: Buffer.from(JSON.stringify({ i, text: "x".repeat(i * 7) })),
    timestamp: at + BigInt(i * 3),
    ...extra,
  };
}

const options = (extra: Partial<CreateRecordsBatchOptions> = {}) =>
  ({
    producerId: 42n,
    producerEpoch: 3,
    sequences: new Sequences([["t:2", 1234]]),
    ...extra,
  }) as unknown as CreateRecordsBatchOptions;

/** The library's own encoding of the same batch (fresh copies: it writes timestamps back). */
function libraryBatch(messages: MessageRecord[], opts: CreateRecordsBatchOptions): Buffer {
  return createRecordsBatch(
    messages.map((m) => ({ ...m })),
    opts,
  ).buffer;
}

describe("encodeRecordBatch", () => {
  const cases: [string, MessageRecord[], CreateRecordsBatchOptions][] = [
    ["one record", [message(0)], options()],
    ["many records, growing values", Array.from({ length: 300 }, (_, i) => message(i)), options()],
    [
      "headers, a null key and an empty value",
      [
        message(1, {
          headers: new Map([
            [Buffer.from("id"), Buffer.from("abc")],
            [Buffer.from("empty"), Buffer.alloc(0)],
          ]),
        }),
        message(2, { key: undefined as unknown as Buffer, value: Buffer.alloc(0) }),
      ],
      options(),
    ],
    ["a tombstone (no value)", [message(3, { value: undefined as unknown as Buffer })], options()],
    [
      "timestamps out of order and days apart",
      [
        message(0, { timestamp: at }),
        message(1, { timestamp: at - 5_000n }),
        message(2, { timestamp: at + 86_400_000n * 20n }),
      ],
      options(),
    ],
    ["transactional", [message(0), message(1)], options({ transactionalId: "tx-1" })],
    [
      "no producer, no sequence yet",
      [message(0)],
      { sequences: new Sequences() } as unknown as CreateRecordsBatchOptions,
    ],
  ];

  for (const [name, messages, opts] of cases) {
    it(`writes what the library writes: ${name}`, () => {
      const ours = encodeRecordBatch(messages, { ...opts, topic: "t", partition: 2 });
      expect(ours.toString("hex")).toBe(libraryBatch(messages, opts).toString("hex"));
    });
  }

  it("reads back as the records it was given", () => {
    const messages = [
      message(5, { headers: new Map([[Buffer.from("h"), Buffer.from("v")]]) }),
      message(6),
    ];
    const batch = readRecordsBatch(
      Reader.from(encodeRecordBatch(messages, { ...options(), topic: "t", partition: 2 })),
    );
    expect(batch.firstSequence).toBe(1234);
    expect(batch.records.map((r) => [r.key?.toString(), r.value?.toString()])).toEqual(
      messages.map((m) => [m.key?.toString(), m.value.toString()]),
    );
    expect(batch.records[0]?.headers.map(([k, v]) => [k?.toString(), v?.toString()])).toEqual([
      ["h", "v"],
    ]);
  });

  it("writes timestamps more than 2^31 ms (24.8 days) apart in one batch exactly", () => {
    // The library's 64-bit zigzag shifts by 31, not 63: it writes this delta as -3456000001.
    const delta = 86_400_000n * 40n;
    const messages = [message(0, { timestamp: at }), message(1, { timestamp: at + delta })];
    const batch = readRecordsBatch(
      Reader.from(encodeRecordBatch(messages, { ...options(), topic: "t", partition: 2 })),
    );
    expect(batch.records.map((r) => r.timestampDelta)).toEqual([0n, delta]);
    expect(batch.maxTimestamp).toBe(at + delta);
  });
});

describe("createProduceRequest", () => {
  it("is the library's Produce v11 request, byte for byte", () => {
    const messages = [
      message(0),
      message(1, { partition: 0 }),
      message(2, { topic: "u", partition: 1 }),
      message(3),
    ];
    const opts = options({ transactionalId: "tx-2" });
    const sequences = new Sequences([
      ["t:2", 7],
      ["t:0", 8],
      ["u:1", 9],
    ]);
    const ours = createProduceRequest(
      -1,
      30_000,
      messages.map((m) => ({ ...m })),
      {
        ...opts,
        sequences,
      },
    );
    const theirs = produceV11.createRequest(
      -1,
      30_000,
      messages.map((m) => ({ ...m })),
      {
        ...opts,
        sequences,
      },
    );
    expect("buffer" in ours && ours.buffer.toString("hex")).toBe(theirs.buffer.toString("hex"));
  });
});
