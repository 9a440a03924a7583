/**
 * Operon's own `/operon/*` routes, every one under management access (see management-access.ts):
 * the executors, the queues, the schedules, and the workflows' list, detail and steps.
 */
import type { RouteOptions } from 'fastify';
import type { OperonRuntime } from '../runtime.js';
import { executorView } from './executors-view.js';
import { queueView } from './queues-view.js';
import { scheduleViews } from './schedules-view.js';
import { managementRoute } from './management-access.js';
import { parseFilter } from './workflow-filter.js';
import { pageSize } from './workflow-queries.js';
import { workflowDetail, workflowPage, workflowSteps } from './workflow-reads.js';

export const EXECUTORS_PATH = '/operon/executors';
export const WORKFLOWS_PATH = '/operon/workflows';
export const QUEUES_PATH = '/operon/queues';
export const SCHEDULES_PATH = '/operon/schedules';

const uuidOf = (request: { params: unknown }) => (request.params as { uuid: string }).uuid;

export function managementRoutes(runtime: OperonRuntime): RouteOptions[] {
  return [
    managementRoute(runtime, {
      method: 'GET',
      url: EXECUTORS_PATH,
      access: 'read',
      handler: async () => (await runtime.systemDb.listExecutors()).map(executorView),
    }),
    managementRoute(runtime, {
      method: 'GET',
      url: QUEUES_PATH,
      access: 'read',
      // Each queue's limits, its workflows by status, the oldest waiting one, running per executor.
      handler: async () => (await runtime.systemDb.listQueues()).map(queueView),
    }),
    managementRoute(runtime, {
      method: 'GET',
      url: SCHEDULES_PATH,
      access: 'read',
      handler: async () => scheduleViews(runtime.schedules, await runtime.systemDb.listSchedules(), runtime.executor.deps.clock.now()),
    }),
    managementRoute(runtime, {
      method: 'GET',
      url: WORKFLOWS_PATH,
      access: 'read',
      handler: async (request) => {
        const query = request.query as Record<string, unknown>;
        const filter = parseFilter(query, ['limit', 'cursor', 'token']);
        const cursor = typeof query.cursor === 'string' && query.cursor !== '' ? query.cursor : undefined;
        return workflowPage(runtime, filter, pageSize(query.limit), cursor);
      },
    }),
    managementRoute(runtime, {
      method: 'GET',
      url: `${WORKFLOWS_PATH}/:uuid`,
      access: 'read',
      handler: (request) => workflowDetail(runtime, uuidOf(request)),
    }),
    managementRoute(runtime, {
      method: 'GET',
      url: `${WORKFLOWS_PATH}/:uuid/steps`,
      access: 'read',
      handler: async (request) => ({ steps: await workflowSteps(runtime, uuidOf(request)) }),
    }),
  ];
}
