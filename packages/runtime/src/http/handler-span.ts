/**
 * One span per handler request, named after its route (`GET /greet/:name`), a child of
 * the caller's W3C `traceparent` when there is one; workflows the handler starts are its children.
 * It starts when the request arrives (so body and schema rejections are traced too) and ends when
 * the response is sent, with the status code. A response of 400 or more marks it as an error.
 * Every response carries the span's `traceparent`, so a client can find the trace of its request
 * (of a rejected one too: the header is set before anything can refuse it).
 *
 * With tracing off no hook is installed at all: the request path pays nothing.
 */
import type { FastifyRequest, RouteOptions } from 'fastify';
import type { HttpRoute } from '@operon/sdk';
import type { RegisteredFunction } from '../executor/function-registry.js';
import type { OperonRuntime } from '../runtime.js';
import { NOOP_RUNTIME_SPAN, type RuntimeSpan } from '../telemetry/tracing.js';

interface RequestSpan {
  readonly span: RuntimeSpan;
  error?: unknown;
}

export interface HandlerSpans {
  /** Route-level Fastify hooks that start and end the span. */
  readonly hooks: Pick<RouteOptions, 'onRequest' | 'onError' | 'onResponse'>;
  /** The span of `request`, or the no-op span if none was started. */
  spanOf(request: FastifyRequest): RuntimeSpan;
}

export function handlerSpans(runtime: OperonRuntime, fn: RegisteredFunction, route: HttpRoute): HandlerSpans | undefined {
  const tracing = runtime.tracing;
  if (!tracing.enabled) return undefined;
  const spans = new WeakMap<FastifyRequest, RequestSpan>();
  const name = `${route.method} ${route.path}`;
  return {
    hooks: {
      onRequest: async (request, reply) => {
        const span = tracing.startSpan(
          name,
          {
            'http.request.method': request.method,
            'http.route': route.path,
            'operon.request_id': request.id,
            'operon.operation_name': fn.name,
            'operon.operation_type': 'handler',
          },
          tracing.extract(request.headers),
        );
        spans.set(request, { span });
        const traceparent = tracing.traceparent(span);
        if (traceparent !== undefined) reply.header('traceparent', traceparent);
      },
      onError: async (request, _reply, error) => {
        const state = spans.get(request);
        if (state) state.error = error;
      },
      onResponse: async (request, reply) => {
        const state = spans.get(request);
        if (!state) return;
        spans.delete(request);
        state.span.setAttribute('http.response.status_code', reply.statusCode);
        if (reply.statusCode < 400) state.span.end();
        else state.span.end(state.error ?? new Error(`HTTP ${reply.statusCode}`));
      },
    },
    spanOf: (request) => spans.get(request)?.span ?? NOOP_RUNTIME_SPAN,
  };
}
