/**
 * The process's tracing switch. Spans go through `@opentelemetry/api`, a no-op until a
 * provider is registered; `startTracing` registers one only when the OTEL_* variables ask for
 * it (config.ts), and loads the SDK and the exporter then, by dynamic import: a process with
 * tracing off loads neither, and the engine checks `tracingEnabled()` before making any span.
 */
import { trace } from "@opentelemetry/api";
import { tracingConfig, TraceExporter, type TracingConfig, type TracingEnv } from "./config.js";

interface Running {
  config: TracingConfig;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

let enabled = false;
let starting: Promise<Running | undefined> | undefined;

/** Whether spans are made: read once per component, so nothing is spent per record when off. */
export function tracingEnabled(): boolean {
  return enabled;
}

export interface StartTracingOptions {
  /** service.name unless OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES) names one. */
  serviceName: string;
  /** Default process.env. */
  env?: TracingEnv | undefined;
}

/**
 * Starts exporting spans when the environment asks for it; resolves to whether tracing is on.
 * Once per process: later calls (a worker and participants in one process) share the first.
 */
export async function startTracing(options: StartTracingOptions): Promise<boolean> {
  starting ??= start(options);
  return (await starting) !== undefined;
}

async function start(options: StartTracingOptions): Promise<Running | undefined> {
  const config = tracingConfig(options.env ?? process.env, options.serviceName);
  if (config === undefined) return undefined;
  const [sdk, resources] = await Promise.all([
    import("@opentelemetry/sdk-trace"),
    import("@opentelemetry/resources"),
  ]);
  const { batch } = config;
  const processors = [];
  if (config.exporters.includes(TraceExporter.Otlp)) {
    const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
    processors.push(
      new sdk.BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: config.otlpUrl }),
        ...batch,
        maxExportBatchSize: Math.min(batch.maxExportBatchSize, batch.maxQueueSize),
      }),
    );
  }
  if (config.exporters.includes(TraceExporter.Console)) {
    processors.push(new sdk.SimpleSpanProcessor({ exporter: new sdk.ConsoleSpanExporter() }));
  }
  const { root, parentBased } = config.sampler;
  const rootSampler =
    root.kind === "always_off"
      ? new sdk.AlwaysOffSampler()
      : root.kind === "ratio"
        ? new sdk.TraceIdRatioBasedSampler(root.ratio)
        : new sdk.AlwaysOnSampler();
  const provider = new sdk.TracerProvider({
    resource: resources
      .defaultResource()
      .merge(resources.resourceFromAttributes({ "service.name": config.serviceName }))
      // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the default name.
      .merge(
        resources.detectResources({
          detectors: [resources.resourceAttributesEnvDetector, resources.serviceNameEnvDetector],
        }),
      ),
    sampler: parentBased ? new sdk.ParentBasedSampler({ root: rootSampler }) : rootSampler,
    spanProcessors: processors,
  });
  if (!trace.setGlobalTracerProvider(provider)) {
    process.emitWarning("a tracer provider was registered already: sagastream's spans go to it");
  }
  for (const name of config.unknownExporters) {
    process.emitWarning(`OTEL_TRACES_EXPORTER names "${name}", which sagastream does not ship`);
  }
  enabled = true;
  return {
    config,
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

/**
 * Makes spans through the tracer provider the application registered itself (its own
 * OpenTelemetry SDK), for services that do not call `startTracing`.
 */
export function useGlobalTracerProvider(): void {
  enabled = true;
}

/** Exports the spans ended so far (a worker's or a participant's stop calls it). */
export async function flushTracing(): Promise<void> {
  await (await starting)?.flush();
}

/** Flushes and stops exporting; spans are no longer made (until `startTracing` again). */
export async function stopTracing(): Promise<void> {
  const running = await starting;
  starting = undefined;
  enabled = false;
  if (running === undefined) return;
  await running.shutdown();
  trace.disable();
}
