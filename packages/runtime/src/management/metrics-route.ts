/** `GET /operon/metrics`: the runtime's Prometheus text, under management access (a viewer may read it). */
import type { RouteOptions } from 'fastify';
import type { OperonRuntime } from '../runtime.js';
import { managementRoute } from './management-access.js';

export const METRICS_PATH = '/operon/metrics';

export function metricsRoute(runtime: OperonRuntime): RouteOptions {
  return managementRoute(runtime, {
    method: 'GET',
    url: METRICS_PATH,
    access: 'read',
    handler: async (_request, reply) => {
      const text = await runtime.metrics.text();
      return reply.type(runtime.metrics.contentType).send(text);
    },
  });
}
