/**
 * Whether and how a process exports traces, from the standard OpenTelemetry variables
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/). Off by
 * default: on only when OTEL_TRACES_EXPORTER names an exporter this engine ships (otlp,
 * console), or, with OTEL_TRACES_EXPORTER unset, when an OTLP endpoint is set. Pure, so the
 * decision is tested without an SDK.
 */
export type TracingEnv = Readonly<Record<string, string | undefined>>;

export const TraceExporter = { Otlp: "otlp", Console: "console" } as const;
export type TraceExporter = (typeof TraceExporter)[keyof typeof TraceExporter];

export interface SamplerConfig {
  /** What a span without a parent does: always, never, or a ratio of trace ids. */
  root: { kind: "always_on" } | { kind: "always_off" } | { kind: "ratio"; ratio: number };
  /** Children follow their parent's decision (the traceparent's sampled flag). */
  parentBased: boolean;
}

export interface TracingConfig {
  exporters: TraceExporter[];
  /** Where OTLP/HTTP sends spans (JSON). */
  otlpUrl: string;
  serviceName: string;
  sampler: SamplerConfig;
  /** The batch span processor's settings (OTEL_BSP_*; the SDK no longer reads them itself). */
  batch: {
    scheduledDelayMillis: number;
    maxQueueSize: number;
    maxExportBatchSize: number;
    exportTimeoutMillis: number;
  };
  /** Exporters named in OTEL_TRACES_EXPORTER that this engine does not ship (ignored). */
  unknownExporters: string[];
}

const DEFAULT_OTLP_URL = "http://localhost:4318/v1/traces";

function set(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === "" ? undefined : trimmed;
}

/** A non-negative integer variable, or `fallback` when unset or invalid (the spec: ignore it). */
function count(env: TracingEnv, name: string, fallback: number): number {
  const value = set(env[name]);
  if (value === undefined || !/^\d+$/.test(value)) return fallback;
  return Number(value);
}

function otlpUrl(env: TracingEnv): string | undefined {
  const traces = set(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  if (traces !== undefined) return traces;
  const base = set(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  return base === undefined ? undefined : `${base.replace(/\/+$/, "")}/v1/traces`;
}

function samplerOf(env: TracingEnv): SamplerConfig {
  const name = set(env.OTEL_TRACES_SAMPLER)?.toLowerCase() ?? "parentbased_always_on";
  const parentBased = name.startsWith("parentbased_");
  const root = parentBased ? name.slice("parentbased_".length) : name;
  if (root === "always_off") return { root: { kind: "always_off" }, parentBased };
  if (root === "traceidratio") {
    const ratio = Number(set(env.OTEL_TRACES_SAMPLER_ARG) ?? "1");
    const valid = Number.isFinite(ratio) && ratio >= 0 && ratio <= 1;
    return { root: { kind: "ratio", ratio: valid ? ratio : 1 }, parentBased };
  }
  // always_on, and samplers this engine does not ship (the spec's default then).
  return { root: { kind: "always_on" }, parentBased: parentBased || root !== "always_on" };
}

/** The tracing `env` asks for, or undefined when tracing is off. */
export function tracingConfig(
  env: TracingEnv,
  defaultServiceName: string,
): TracingConfig | undefined {
  if (set(env.OTEL_SDK_DISABLED)?.toLowerCase() === "true") return undefined;
  const url = otlpUrl(env);
  const named = set(env.OTEL_TRACES_EXPORTER)
    ?.toLowerCase()
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  const wanted = named ?? (url === undefined ? [] : [TraceExporter.Otlp]);
  const exporters = Object.values(TraceExporter).filter((e) => wanted.includes(e));
  if (exporters.length === 0) return undefined; // also OTEL_TRACES_EXPORTER=none
  return {
    exporters,
    otlpUrl: url ?? DEFAULT_OTLP_URL,
    serviceName: set(env.OTEL_SERVICE_NAME) ?? defaultServiceName,
    sampler: samplerOf(env),
    batch: {
      scheduledDelayMillis: count(env, "OTEL_BSP_SCHEDULE_DELAY", 5_000),
      maxQueueSize: count(env, "OTEL_BSP_MAX_QUEUE_SIZE", 2_048),
      maxExportBatchSize: count(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512),
      exportTimeoutMillis: count(env, "OTEL_BSP_EXPORT_TIMEOUT", 30_000),
    },
    unknownExporters: wanted.filter(
      (e) => e !== "none" && !(Object.values(TraceExporter) as string[]).includes(e),
    ),
  };
}
