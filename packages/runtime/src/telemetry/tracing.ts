/**
 * OpenTelemetry spans for handlers, workflows and operations. With tracing off, every
 * call returns the shared no-op span and allocates nothing, so the hot path pays almost nothing.
 * The provider is owned by the runtime, never registered globally.
 */
import { ROOT_CONTEXT, SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { OperonSpan } from '@operon/sdk';
import { NOOP_SPAN } from '../executor/operation-context.js';

export type SpanAttributes = Record<string, string | number | boolean>;

/** A span as the runtime handles it: the context-facing part plus how to end it. */
export interface RuntimeSpan extends OperonSpan {
  end(error?: unknown): void;
}

export interface Tracing {
  readonly enabled: boolean;
  /** Starts a span under `parent` (a span, or a context extracted from a `traceparent` header). */
  startSpan(name: string, attributes: SpanAttributes, parent?: RuntimeSpan | Context): RuntimeSpan;
  /** The context carried by W3C `traceparent`/`tracestate` headers, if any. */
  extract(headers: Record<string, string | string[] | undefined>): Context | undefined;
  /** The W3C `traceparent` naming `span` (`00-<trace id>-<span id>-<flags>`); undefined for the no-op span. */
  traceparent(span: RuntimeSpan): string | undefined;
  shutdown(): Promise<void>;
}

/** The span of everything while tracing is off. */
export const NOOP_RUNTIME_SPAN: RuntimeSpan = { ...NOOP_SPAN, end: () => undefined };

export const TRACING_OFF: Tracing = {
  enabled: false,
  startSpan: () => NOOP_RUNTIME_SPAN,
  extract: () => undefined,
  traceparent: () => undefined,
  shutdown: async () => undefined,
};

const OTEL_SPAN = Symbol('otelSpan');

class OtelSpan implements RuntimeSpan {
  readonly [OTEL_SPAN]: Span;
  constructor(span: Span) {
    this[OTEL_SPAN] = span;
  }
  setAttribute(key: string, value: string | number | boolean): this {
    this[OTEL_SPAN].setAttribute(key, value);
    return this;
  }
  addEvent(name: string, attributes?: SpanAttributes): this {
    this[OTEL_SPAN].addEvent(name, attributes);
    return this;
  }
  end(error?: unknown): void {
    const span = this[OTEL_SPAN];
    if (error !== undefined) {
      const err = error instanceof Error ? error : new Error(String(error));
      span.recordException(err);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
    } else {
      span.setStatus({ code: SpanStatusCode.OK });
    }
    span.end();
  }
}

const headerGetter = {
  keys: (carrier: Record<string, string | string[] | undefined>) => Object.keys(carrier),
  get: (carrier: Record<string, string | string[] | undefined>, key: string) => carrier[key.toLowerCase()],
};

/**
 * Exports spans by OTLP/HTTP to `endpoint`, batching them off the request path. The OpenTelemetry
 * SDK is loaded only when tracing is on: it is a tenth of a second of every cold start otherwise.
 */
export async function createTracing(options: { enabled: boolean; endpoint: string; serviceName: string }): Promise<Tracing> {
  if (!options.enabled) return TRACING_OFF;
  const [{ W3CTraceContextPropagator }, { OTLPTraceExporter }, { resourceFromAttributes }, { BasicTracerProvider, BatchSpanProcessor }] =
    await Promise.all([
      import('@opentelemetry/core'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/sdk-trace-base'),
    ]);
  const propagator = new W3CTraceContextPropagator();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: options.endpoint }), { scheduledDelayMillis: 500 })],
  });
  const tracer: Tracer = provider.getTracer('operon');
  return {
    enabled: true,
    startSpan(name, attributes, parent) {
      const parentContext =
        parent instanceof OtelSpan ? trace.setSpan(ROOT_CONTEXT, parent[OTEL_SPAN]) : isContext(parent) ? parent : ROOT_CONTEXT;
      return new OtelSpan(tracer.startSpan(name, { attributes }, parentContext));
    },
    extract(headers) {
      if (!headers['traceparent']) return undefined;
      const extracted = propagator.extract(ROOT_CONTEXT, headers, headerGetter);
      return trace.getSpanContext(extracted) ? extracted : undefined;
    },
    traceparent(span) {
      if (!(span instanceof OtelSpan)) return undefined;
      const { traceId, spanId, traceFlags } = span[OTEL_SPAN].spanContext();
      return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, '0')}`;
    },
    async shutdown() {
      await provider.forceFlush();
      await provider.shutdown();
    },
  };
}

function isContext(value: unknown): value is Context {
  return typeof value === 'object' && value !== null && typeof (value as Context).getValue === 'function';
}
