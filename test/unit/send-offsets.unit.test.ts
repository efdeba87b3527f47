import type { Transaction } from "kafkajs";
import { describe, expect, it } from "vitest";
import { sendOffsetsInTransaction } from "../../src/kafka/kafkajs-legacy.js";

/** A transaction whose sendOffsets throws the given errors, in turn, before it succeeds. */
function transactionFailing(...errors: Error[]) {
  let calls = 0;
  const tx = {
    sendOffsets: () => {
      const error = errors[calls++];
      return error === undefined ? Promise.resolve() : Promise.reject(error);
    },
  } as unknown as Transaction;
  return { tx, calls: () => calls };
}

function kafkaError(message: string, retriable: boolean): Error {
  return Object.assign(new Error(message), { retriable });
}

const offsets = { consumerGroupId: "g", topics: [{ topic: "t", partitions: [] }] };

describe("sendOffsetsInTransaction", () => {
  it("retries CONCURRENT_TRANSACTIONS (retriable), which kafkajs does not for AddOffsetsToTxn", async () => {
    const busy = kafkaError("another concurrent operation on the same transaction", true);
    const { tx, calls } = transactionFailing(busy, busy);
    await sendOffsetsInTransaction(tx, offsets);
    expect(calls()).toBe(3);
  });

  it("gives up at once on an error that is not retriable (a fenced producer)", async () => {
    const fenced = kafkaError("Producer attempted an operation with an old epoch", false);
    const { tx, calls } = transactionFailing(fenced);
    await expect(sendOffsetsInTransaction(tx, offsets)).rejects.toThrow("old epoch");
    expect(calls()).toBe(1);
  });
});
