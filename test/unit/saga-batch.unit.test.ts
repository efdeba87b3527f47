/**
 * Operators' batches without I/O: what a batch body may ask for, what each worker's part adds
 * up to, and the CLI's times ("2h" ago or an ISO time).
 */
import { describe, expect, it } from "vitest";
import {
  batchBody,
  mergeBatchReports,
  parseBatchRequest,
  runLocalBatch,
} from "../../src/api/batch.js";
import { HttpError } from "../../src/api/http-error.js";
import { parsePosition, parseTime } from "../../src/ops/index.js";
import type { SagaControl } from "../../src/saga/index.js";

const parse = (body: Record<string, unknown>, action: "retry" | "cancel" = "cancel") =>
  parseBatchRequest(action, body, 1_000);

function refusal(body: Record<string, unknown>, action: "retry" | "cancel" = "cancel"): string {
  try {
    parse(body, action);
  } catch (error) {
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).status).toBe(400);
    return (error as Error).message;
  }
  throw new Error("expected a 400");
}

describe("a batch request", () => {
  it("applies to the statuses its action accepts unless told fewer", () => {
    expect(parse({ filter: { type: "order" } }).filter.statuses).toEqual(["RUNNING", "FAILED"]);
    expect(parse({ filter: { type: "order" } }, "retry").filter.statuses).toEqual(["FAILED"]);
    expect(parse({ filter: { status: "RUNNING" } }).filter.statuses).toEqual(["RUNNING"]);
    expect(refusal({ filter: { status: ["RUNNING"] } }, "retry")).toMatch(/FAILED only/);
    expect(refusal({ filter: { status: ["COMPLETED"] } })).toMatch(/RUNNING or FAILED only/);
  });

  it("needs a filter or all: true to act, but counts without one", () => {
    expect(refusal({})).toMatch(/"all": true/);
    expect(parse({ all: true }).dryRun).toBe(false);
    expect(parse({ dryRun: true }).dryRun).toBe(true);
  });

  it("reads times, a version and a type, and refuses what it does not know", () => {
    const request = parse({
      filter: {
        type: "order",
        version: 2,
        startedAfter: "2026-12-04T10:00:00Z",
        startedBefore: "2026-12-04T11:00:00Z",
      },
    });
    expect(request.filter).toMatchObject({
      type: "order",
      version: 2,
      startedAfter: Date.parse("2026-12-04T10:00:00Z"),
      startedBefore: Date.parse("2026-12-04T11:00:00Z"),
    });
    expect(refusal({ filter: { startedAfter: "yesterday" } })).toMatch(/ISO time/);
    expect(refusal({ filter: { version: 0 } })).toMatch(/version/);
    expect(refusal({ filter: { owner: "x" } })).toMatch(/unknown filter field\(s\) owner/);
    expect(refusal({ filter: [] })).toMatch(/object/);
    expect(refusal({ filter: { type: "o" }, reason: "x".repeat(1_001) })).toMatch(/1000/);
  });

  it("is asked of another worker as the same batch", () => {
    const request = parse({ filter: { type: "order", startedAfter: "2026-12-04T10:00:00Z" } });
    expect(parse(batchBody(request))).toEqual(request);
  });
});

describe("a batch's parts", () => {
  it("requests each match in sends of 1,000, and only counts in a dry run", async () => {
    const sagaIds = [...Array(2_500).keys()].map((i) => `s-${i}`);
    const sends: { sagaId: string; control: SagaControl }[][] = [];
    const match = () => Promise.resolve({ sagaIds, served: [0, 1] });
    const send = (requests: { sagaId: string; control: SagaControl }[]) => {
      sends.push(requests);
      return Promise.resolve();
    };
    const request = parse({ filter: { type: "order" }, reason: "recall" });
    const report = await runLocalBatch(request, "http://w1", match, send);
    expect(sends.map((s) => s.length)).toEqual([1_000, 1_000, 500]);
    expect(sends[0]?.[0]).toEqual({ sagaId: "s-0", control: { type: "Cancel", reason: "recall" } });
    expect(report).toMatchObject({ matched: 2_500, requested: 2_500, served: [0, 1] });
    expect(report.sample).toHaveLength(10);
    const dry = await runLocalBatch({ ...request, dryRun: true }, "http://w1", match, send);
    expect(dry).toMatchObject({ matched: 2_500, requested: 0 });
    expect(sends).toHaveLength(3);
  });

  it("add up, and name the partitions no worker read", () => {
    const request = parse({ filter: { type: "order" } });
    const part = (served: number[], matched: number) => ({
      address: "w",
      served,
      matched,
      requested: matched,
      sample: [],
    });
    const report = mergeBatchReports(
      request,
      [part([0, 1], 3), part([2], 4)],
      [{ address: "w3", error: "timeout" }],
      4,
      Date.now(),
    );
    expect(report).toMatchObject({ matched: 7, requested: 7, missing: [3] });
  });
});

describe("the CLI's times and positions", () => {
  it("take a duration ago, an ISO time or now, and refuse anything else", () => {
    const now = Date.parse("2026-12-04T12:00:00Z");
    const iso = (value: string) => new Date(parseTime(value, now)).toISOString();
    expect(iso("2h")).toBe("2026-12-04T10:00:00.000Z");
    expect(iso("30m")).toBe("2026-12-04T11:30:00.000Z");
    expect(iso("7d")).toBe("2026-11-27T12:00:00.000Z");
    expect(iso("2026-12-01T00:00:00Z")).toBe("2026-12-01T00:00:00.000Z");
    expect(iso("now")).toBe("2026-12-04T12:00:00.000Z");
    expect(() => parseTime("yesterday", now)).toThrow(/ISO time.*duration ago/);
  });

  it("read an offset, a time or an end of the log", () => {
    const now = Date.parse("2026-12-04T12:00:00Z");
    expect(parsePosition("1200", now)).toEqual({ kind: "offset", offset: 1200n });
    expect(parsePosition("1h", now)).toEqual({ kind: "time", at: now - 3_600_000 });
    expect(parsePosition("earliest", now)).toEqual({ kind: "earliest" });
    expect(parsePosition("latest", now)).toEqual({ kind: "latest" });
  });
});
