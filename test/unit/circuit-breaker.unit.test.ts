import { describe, expect, it, vi } from "vitest";
import {
  CircuitCallTimeoutError,
  CircuitOpenError,
  CommandRefusedError,
} from "../../src/errors/index.js";
import {
  CircuitBreaker,
  CircuitState,
  DEFAULT_CIRCUIT_BREAKER,
} from "../../src/participant/index.js";

function breaker() {
  let clock = 0;
  const b = new CircuitBreaker("gateway", undefined, () => clock);
  const fail = () => b.run(() => Promise.reject(new Error("down"))).catch((e: unknown) => e);
  const pass = () => b.run(() => Promise.resolve("ok")).catch((e: unknown) => e);
  return { b, fail, pass, tick: (ms: number) => (clock += ms) };
}

describe("CircuitBreaker (defaults: 5 failures in 60 s, open 30 s, 3 half-open trials)", () => {
  it("opens at the 5th failure within 60 s and then fails fast", async () => {
    const { b, fail, pass, tick } = breaker();
    for (let i = 0; i < 4; i += 1) {
      await fail();
      tick(10_000);
    }
    expect(b.state).toBe(CircuitState.Closed);
    await fail();
    expect(b.state).toBe(CircuitState.Open);
    const refused = await pass();
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect((refused as Error).message).toMatch(/gateway .* next trial is in 30 s/);
  });

  it("forgets failures older than the window", async () => {
    const { b, fail, tick } = breaker();
    for (let i = 0; i < 4; i += 1) await fail();
    tick(60_000);
    await fail();
    expect(b.state).toBe(CircuitState.Closed);
  });

  it("after 30 s lets 3 trials through; closes when they succeed", async () => {
    const { b, fail, pass, tick } = breaker();
    for (let i = 0; i < 5; i += 1) await fail();
    tick(29_999);
    expect(b.state).toBe(CircuitState.Open);
    tick(1);
    expect(b.state).toBe(CircuitState.HalfOpen);
    expect(await pass()).toBe("ok");
    expect(await pass()).toBe("ok");
    expect(b.state).toBe(CircuitState.HalfOpen);
    expect(await pass()).toBe("ok");
    expect(b.state).toBe(CircuitState.Closed);
  });

  it("reopens at a failed trial, and refuses a 4th concurrent trial", async () => {
    const { b, fail, pass, tick } = breaker();
    for (let i = 0; i < 5; i += 1) await fail();
    tick(30_000);
    await pass();
    await fail();
    expect(b.state).toBe(CircuitState.Open);
    tick(30_000);
    const slow = Array.from({ length: 3 }, () => b.run(() => new Promise((r) => setTimeout(r, 5))));
    expect(await pass()).toBeInstanceOf(CircuitOpenError);
    await Promise.all(slow);
    expect(b.state).toBe(CircuitState.Closed);
  });
});

describe("CircuitBreaker: what counts as the downstream failing (review, issue 13)", () => {
  it("does not count refusals: the downstream answered", async () => {
    const { b, tick } = breaker();
    for (let i = 0; i < 10; i += 1) {
      const refused = await b
        .run(() => Promise.reject(new CommandRefusedError("card declined")))
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(CommandRefusedError);
      tick(1_000);
    }
    expect(b.state).toBe(CircuitState.Closed);
  });

  it("fails a call that outlives its timeout, so a hung half-open trial cannot stall it", async () => {
    vi.useFakeTimers();
    try {
      const b = new CircuitBreaker("gateway", { ...DEFAULT_CIRCUIT_BREAKER, callTimeoutMs: 5_000 });
      const hung = b.run(() => new Promise<never>(() => undefined)).catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(5_000);
      const error = await hung;
      expect(error).toBeInstanceOf(CircuitCallTimeoutError);
      expect((error as Error).message).toMatch(/gateway did not answer within 5 s/);
    } finally {
      vi.useRealTimers();
    }
  });

  it("says when the next trial is, for the saga's retry to wait that long", async () => {
    const { fail, pass, tick } = breaker();
    for (let i = 0; i < 5; i += 1) await fail();
    tick(12_000);
    const refused = await pass();
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect((refused as CircuitOpenError).retryInMs).toBe(18_000);
  });
});
