import { describe, expect, it } from "vitest";
import { waitUntil, WaitTimeoutError } from "../../src/util/index.js";

describe("waitUntil", () => {
  it("returns the first defined value", async () => {
    let calls = 0;
    const value = await waitUntil(() => (++calls === 3 ? "ready" : undefined), {
      timeoutMs: 1000,
      intervalMs: 1,
      description: "the third call",
    });
    expect(value).toBe("ready");
    expect(calls).toBe(3);
  });

  it("times out naming what it waited for and the last problem", async () => {
    const attempt = () => {
      throw new Error("connection refused");
    };
    const error: unknown = await waitUntil(attempt, {
      timeoutMs: 20,
      intervalMs: 5,
      description: "the broker",
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as Error).message).toMatch(/waiting for the broker \(last: connection refused\)/);
  });

  it("stops when its signal aborts", async () => {
    const controller = new AbortController();
    const waiting = waitUntil(() => undefined, {
      timeoutMs: 10_000,
      intervalMs: 5,
      description: "never",
      signal: controller.signal,
    });
    controller.abort();
    await expect(waiting).rejects.toThrow(/abort/i);
  });
});
