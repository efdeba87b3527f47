/** Whether a process traces, and how, from the OTEL_* variables: off unless they ask. */
import { describe, expect, it } from "vitest";
import {
  startTracing,
  stopTracing,
  tracingConfig,
  tracingEnabled,
} from "../../src/tracing/index.js";

const on = (env: Record<string, string>) => tracingConfig(env, "sagastream-worker");

describe("tracing configuration", () => {
  it("is off by default", () => {
    expect(on({})).toBeUndefined();
  });

  it("is on with an OTLP endpoint, which gets the traces path", () => {
    for (const endpoint of ["http://collector:4318", "http://collector:4318/"]) {
      expect(on({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint })).toMatchObject({
        exporters: ["otlp"],
        otlpUrl: "http://collector:4318/v1/traces",
      });
    }
  });

  it("uses a traces endpoint as it is", () => {
    expect(on({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/custom" })?.otlpUrl).toBe(
      "http://c:4318/custom",
    );
  });

  it("is on with OTEL_TRACES_EXPORTER=otlp, to the default endpoint without one", () => {
    expect(on({ OTEL_TRACES_EXPORTER: "otlp" })?.otlpUrl).toBe("http://localhost:4318/v1/traces");
    expect(on({ OTEL_TRACES_EXPORTER: " console , OTLP " })?.exporters).toEqual([
      "otlp",
      "console",
    ]);
  });

  it.each([
    ["OTEL_TRACES_EXPORTER=none", { OTEL_TRACES_EXPORTER: "none" }],
    ["OTEL_SDK_DISABLED=true", { OTEL_SDK_DISABLED: "TRUE", OTEL_TRACES_EXPORTER: "otlp" }],
    ["only exporters it does not ship", { OTEL_TRACES_EXPORTER: "zipkin" }],
  ])("is off with %s, even with an endpoint", (_, env) => {
    expect(on({ ...env, OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" })).toBeUndefined();
  });

  it("names exporters it does not ship", () => {
    expect(on({ OTEL_TRACES_EXPORTER: "otlp,zipkin" })?.unknownExporters).toEqual(["zipkin"]);
  });

  it("names the service after the process unless OTEL_SERVICE_NAME does", () => {
    const env = { OTEL_TRACES_EXPORTER: "otlp" };
    expect(on(env)?.serviceName).toBe("sagastream-worker");
    expect(on({ ...env, OTEL_SERVICE_NAME: "orders" })?.serviceName).toBe("orders");
  });

  it("reads the batch processor's settings, ignoring invalid ones", () => {
    const config = on({
      OTEL_TRACES_EXPORTER: "otlp",
      OTEL_BSP_SCHEDULE_DELAY: "100",
      OTEL_BSP_MAX_QUEUE_SIZE: "-5",
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "lots",
    });
    expect(config?.batch).toEqual({
      scheduledDelayMillis: 100,
      maxQueueSize: 2_048,
      maxExportBatchSize: 512,
      exportTimeoutMillis: 30_000,
    });
  });

  it.each([
    [undefined, undefined, { root: { kind: "always_on" }, parentBased: true }],
    ["always_on", undefined, { root: { kind: "always_on" }, parentBased: false }],
    ["parentbased_always_off", undefined, { root: { kind: "always_off" }, parentBased: true }],
    ["traceidratio", "0.25", { root: { kind: "ratio", ratio: 0.25 }, parentBased: false }],
    ["parentbased_traceidratio", "2", { root: { kind: "ratio", ratio: 1 }, parentBased: true }],
    ["jaeger_remote", undefined, { root: { kind: "always_on" }, parentBased: true }],
  ])("samples as OTEL_TRACES_SAMPLER=%s (arg %s) says", (sampler, arg, expected) => {
    const env: Record<string, string> = { OTEL_TRACES_EXPORTER: "otlp" };
    if (sampler !== undefined) env.OTEL_TRACES_SAMPLER = sampler;
    if (arg !== undefined) env.OTEL_TRACES_SAMPLER_ARG = arg;
    expect(on(env)?.sampler).toEqual(expected);
  });

  it("starts nothing when off", async () => {
    try {
      expect(await startTracing({ serviceName: "test", env: {} })).toBe(false);
      expect(tracingEnabled()).toBe(false);
    } finally {
      await stopTracing();
    }
  });
});
