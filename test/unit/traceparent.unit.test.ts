/** The W3C traceparent header: parsed by the spec's rules, formatted back the same. */
import { describe, expect, it } from "vitest";
import { formatTraceparent, parseTraceparent } from "../../src/tracing/index.js";

const TRACE = "0af7651916cd43dd8448eb211c80319c";
const SPAN = "b7ad6b7169203331";

describe("traceparent", () => {
  it("parses a version-00 header into a remote span context", () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`)).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      traceFlags: 1,
      isRemote: true,
    });
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-00`)?.traceFlags).toBe(0);
  });

  it("accepts a later version with more fields after the flags", () => {
    expect(parseTraceparent(`01-${TRACE}-${SPAN}-01-future`)?.spanId).toBe(SPAN);
  });

  it.each([
    ["absent", undefined],
    ["empty", ""],
    ["upper-case hex", `00-${TRACE.toUpperCase()}-${SPAN}-01`],
    ["a short trace id", `00-${TRACE.slice(1)}-${SPAN}-01`],
    ["a short span id", `00-${TRACE}-${SPAN.slice(1)}-01`],
    ["version ff", `ff-${TRACE}-${SPAN}-01`],
    ["an all-zero trace id", `00-${"0".repeat(32)}-${SPAN}-01`],
    ["an all-zero span id", `00-${TRACE}-${"0".repeat(16)}-01`],
    ["version 00 with more fields", `00-${TRACE}-${SPAN}-01-extra`],
    ["the test headers of older tests", "00-abc-def-01"],
  ])("refuses %s", (_, header) => {
    expect(parseTraceparent(header)).toBeUndefined();
  });

  it("formats a span context as version 00, round-tripping what it parses", () => {
    for (const header of [`00-${TRACE}-${SPAN}-01`, `00-${TRACE}-${SPAN}-00`]) {
      const context = parseTraceparent(header);
      if (context === undefined) throw new Error(`${header} did not parse`);
      expect(formatTraceparent(context)).toBe(header);
    }
    expect(formatTraceparent({ traceId: TRACE, spanId: SPAN, traceFlags: 3 })).toBe(
      `00-${TRACE}-${SPAN}-03`,
    );
  });
});
