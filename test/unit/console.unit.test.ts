import { describe, expect, it } from "vitest";
import { listQuery, parseListQuery } from "../../src/api/list-query.js";
import { html } from "../../src/console/html.js";
import { timelineSvg } from "../../src/console/saga-page.js";
import { emptySeries, mergeSeries, quantileOfDelta } from "../../src/console/series.js";
import { sagaTimeline } from "../../src/ops/index.js";
import { SagaStatus } from "../../src/saga/index.js";

describe("the console's html", () => {
  it("escapes every value, so a saga id or a reason never becomes markup", () => {
    const id = `<script>alert("x")</script>&'`;
    expect(html`<td>${id}</td>`.text).toBe(
      "<td>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;</td>",
    );
  });

  it("keeps Html it is given, joins lists and drops empty values", () => {
    const rows = ["a", "<b>"].map((x) => html`<li>${x}</li>`);
    expect(
      html`<ul>
        ${rows}${undefined}${false}${null}
      </ul>`.text.replace(/>\s+</g, "><"),
    ).toBe("<ul><li>a</li><li>&lt;b&gt;</li></ul>");
  });
});

describe("a listing's query string", () => {
  it("says the same filter back, its cursor included", () => {
    const filter = {
      limit: 50,
      statuses: [SagaStatus.Running, SagaStatus.Failed],
      type: "order",
      version: 2,
      startedAfter: 1_000,
      startedBefore: 2_000,
      after: "RUNNING\u0000order\u0000id/with?odd&chars",
    };
    expect(parseListQuery(new URLSearchParams(listQuery(filter)))).toEqual(filter);
  });

  it("refuses an unknown status, a bad limit, version or time", () => {
    const parse = (q: string) => () => parseListQuery(new URLSearchParams(q));
    expect(parse("status=DONE")).toThrow(/status must be one of/);
    expect(parse("limit=0")).toThrow(/limit must be/);
    expect(parse("version=x")).toThrow(/version must be/);
    expect(parse("from=yesterday")).toThrow(/from must be an ISO time/);
  });

  it("reads ISO times and ms alike, and empty fields as none", () => {
    const filter = parseListQuery(
      new URLSearchParams("from=2026-12-05T00:00:00Z&to=5&type=&status="),
    );
    expect(filter.startedAfter).toBe(Date.parse("2026-12-05T00:00:00Z"));
    expect(filter.startedBefore).toBe(5);
    expect(filter.type).toBeUndefined();
    expect(filter.statuses).toEqual([]);
  });
});

describe("the charts' figures", () => {
  const buckets = (pairs: [number, number][]) => new Map(pairs);

  it("takes a quantile of what a histogram gained between two readings", () => {
    const before = buckets([
      [0.1, 10],
      [1, 10],
      [Infinity, 10],
    ]);
    // 100 new observations: 50 up to 0.1 s, 50 in (0.1, 1]
    const after = buckets([
      [0.1, 60],
      [1, 110],
      [Infinity, 110],
    ]);
    expect(quantileOfDelta(before, after, 0.5)).toBeCloseTo(0.1);
    expect(quantileOfDelta(before, after, 0.99)).toBeCloseTo(0.1 + 0.9 * (49 / 50));
    expect(quantileOfDelta(after, after, 0.5)).toBeUndefined();
  });

  it("sums the workers' counts second by second and keeps the slowest latency", () => {
    const a = {
      ...emptySeries(),
      t: [10, 11],
      startedPerSecond: [1, 2],
      endedPerSecond: [1, 1],
      stepP50Ms: [5, null],
      stepP99Ms: [9, null],
      lag: [0, 3],
      deadLetters: [0, 0],
    };
    const b = {
      ...emptySeries(),
      t: [11, 12],
      startedPerSecond: [4, 4],
      endedPerSecond: [2, 2],
      stepP50Ms: [7, 8],
      stepP99Ms: [20, 30],
      lag: [1, 1],
      deadLetters: [1, 1],
    };
    expect(mergeSeries([a, b])).toEqual({
      t: [10, 11, 12],
      startedPerSecond: [1, 6, 4],
      endedPerSecond: [1, 3, 2],
      stepP50Ms: [5, 7, 8],
      stepP99Ms: [9, 20, 30],
      lag: [0, 4, 1],
      deadLetters: [0, 1, 1],
    });
  });
});

describe("a saga's timeline drawn", () => {
  it("draws a bar per step action with its duration, and a tick per event", () => {
    const at = 1_000_000;
    const timeline = sagaTimeline([
      { seq: 1, event: { type: "SagaStarted", at, sagaType: "order", version: 1, data: {} } },
      {
        seq: 2,
        event: {
          type: "CommandIssued",
          at,
          step: "pay",
          action: "do",
          attempt: 1,
          participant: "payment",
          command: { type: "Pay", payload: {} },
          commandId: "c1",
        },
      },
      { seq: 3, event: { type: "StepSucceeded", at: at + 120, step: "pay", result: {} } },
      { seq: 4, event: { type: "SagaCompleted", at: at + 130 } },
    ] as Parameters<typeof sagaTimeline>[0]);
    const svg = timelineSvg(timeline, at + 10_000).text.replace(/\s+/g, " ");
    expect(svg).toContain('data-step="pay" data-action="do" data-duration-ms="120"');
    expect(svg.match(/class="event"/g)).toHaveLength(4);
    expect(svg).toMatch(/> ?120 ms ?</);
  });
});
