/** Tracing: OpenTelemetry spans joined by the traceparent each message carries; off by default. */
export { tracingConfig, TraceExporter, type TracingConfig, type TracingEnv } from "./config.js";
export {
  flushTracing,
  startTracing,
  stopTracing,
  tracingEnabled,
  useGlobalTracerProvider,
  type StartTracingOptions,
} from "./tracing.js";
export { formatTraceparent, parseTraceparent } from "./traceparent.js";
export {
  activeContext,
  ATTR,
  contextOf,
  endFailed,
  parentFrom,
  SPAN,
  SpanKind,
  startSpan,
  traceparentOf,
  type SpanStart,
} from "./spans.js";
