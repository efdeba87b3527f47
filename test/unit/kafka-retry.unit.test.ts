import {
  GenericError,
  MultipleErrors,
  NetworkError,
  ProtocolError,
  ResponseError,
  TimeoutError,
  UserError,
} from "@platformatic/kafka";
import { describe, expect, it } from "vitest";
import {
  backoffMs,
  isRetriable,
  kafkaErrorId,
  retrying,
  transactionalRetryDelay,
} from "../../src/kafka/index.js";

const protocol = (id: string) => new ProtocolError(id);
const nested = (...errors: Error[]) =>
  new MultipleErrors("outer", [new MultipleErrors("inner", errors)]);

describe("Kafka error classification", () => {
  it.each([
    ["a connection that failed", new NetworkError("ECONNREFUSED"), true],
    ["a request that timed out", new TimeoutError("timed out"), true],
    ["a leader that moved", protocol("NOT_LEADER_OR_FOLLOWER"), true],
    ["a coordinator still loading", protocol("COORDINATOR_LOAD_IN_PROGRESS"), true],
    ["a concurrent transaction", protocol("CONCURRENT_TRANSACTIONS"), true],
    ["a group rebalancing", protocol("REBALANCE_IN_PROGRESS"), true],
    ["retriable errors inside aggregates", nested(protocol("NOT_COORDINATOR")), true],
    ["a fenced producer", protocol("INVALID_PRODUCER_EPOCH"), false],
    ["a record too large", protocol("MESSAGE_TOO_LARGE"), false],
    ["a misuse of the client", new UserError("bad options"), false],
    [
      "one fatal error among retriable ones",
      nested(protocol("NOT_COORDINATOR"), protocol("INVALID_PRODUCER_EPOCH")),
      false,
    ],
    ["an error that is not the client's", new Error("boom"), false],
    ["an empty aggregate", new MultipleErrors("none", []), false],
  ])("%s: retriable %s", (_, error, retriable) => {
    expect(isRetriable(error)).toBe(retriable);
  });

  it("names the broker's error, however deeply aggregated", () => {
    expect(kafkaErrorId(nested(protocol("TOPIC_ALREADY_EXISTS")))).toBe("TOPIC_ALREADY_EXISTS");
    expect(kafkaErrorId(new ResponseError(19, 7, { "/topics/0": [36, null] }, {}))).toBe(
      "TOPIC_ALREADY_EXISTS",
    );
    expect(kafkaErrorId(new GenericError("PLT_KFK_USER", "x"))).toBeUndefined();
    expect(kafkaErrorId(new Error("x"))).toBeUndefined();
  });
});

describe("backoff", () => {
  it("doubles from 100 ms to a 3 s ceiling, within ±20%", () => {
    const at = (attempt: number, random: number) => backoffMs(attempt, () => random);
    expect([1, 2, 3, 4, 5, 6, 10].map((a) => at(a, 0.5))).toEqual([
      100, 200, 400, 800, 1600, 3000, 3000,
    ]);
    expect(at(1, 0)).toBe(80);
    expect(at(10, 1)).toBe(3600);
  });

  it("retries a transaction's CONCURRENT_TRANSACTIONS after 2 ms, other errors after 20, doubling to 1 s", () => {
    const delays = (error: Error) =>
      [1, 2, 3, 4, 5, 10, 60].map((a) => transactionalRetryDelay(undefined, "op", a, 60, error));
    expect(delays(nested(protocol("CONCURRENT_TRANSACTIONS")))).toEqual([
      2, 4, 8, 16, 32, 1000, 1000,
    ]);
    expect(delays(new NetworkError("down"))).toEqual([20, 40, 80, 160, 320, 1000, 1000]);
  });

  it("retries retriable errors until the operation succeeds, and not others", async () => {
    let calls = 0;
    const flaky = () => {
      calls += 1;
      return calls < 3 ? Promise.reject(new NetworkError("down")) : Promise.resolve("up");
    };
    await expect(retrying(flaky)).resolves.toBe("up");
    expect(calls).toBe(3);

    calls = 0;
    const fenced = () => {
      calls += 1;
      return Promise.reject(protocol("INVALID_PRODUCER_EPOCH"));
    };
    await expect(retrying(fenced)).rejects.toThrow(/old epoch/);
    expect(calls).toBe(1);
  });
});
