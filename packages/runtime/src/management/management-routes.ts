/**
 * Operon's own `/operon/*` routes, every one under management access (see management-access.ts):
 * the executors, the queues, the schedules, the versions, and the workflows' list, detail and steps.
 */
import type { RouteOptions } from 'fastify';
import type { OperonRuntime } from '../runtime.js';
import { executorView } from './executors-view.js';
import { queueView } from './queues-view.js';
import { scheduleViews } from './schedules-view.js';
import { versionView } from './versions-view.js';
import { checkedMoveOf, forkMoveOf } from '../versions/version-check.js';
import { managementRoute } from './management-access.js';
import { parseFilter } from './workflow-filter.js';
import { bodyFields, cursorOf } from './request-parameters.js';
import { pageSize } from './workflow-queries.js';
import { workflowDetail, workflowPage, workflowSteps } from './workflow-reads.js';
import { auditPage, cancelWorkflows, forkWorkflow, parseFork, resumeWorkflows, type ChangeResult } from './workflow-changes.js';

export const EXECUTORS_PATH = '/operon/executors';
export const WORKFLOWS_PATH = '/operon/workflows';
export const QUEUES_PATH = '/operon/queues';
export const SCHEDULES_PATH = '/operon/schedules';
export const VERSIONS_PATH = '/operon/versions';
export const AUDIT_PATH = '/operon/audit';

const uuidOf = (request: { params: unknown }) => (request.params as { uuid: string }).uuid;

export function managementRoutes(runtime: OperonRuntime): RouteOptions[] {
  const { systemPool, appPool } = runtime.systemDb;
  const { appDeadlineMs, systemDeadlineMs } = runtime.config.management;
  const deadlines = { appDeadlineMs, systemDeadlineMs };
  /** This runtime runs workflows: it adopts what a change handed over at once, not at its next heartbeat. */
  const adopted = (result: ChangeResult): ChangeResult => {
    if (result.handover !== undefined && result.changed > 0) void runtime.executor.adoptNow([result.handover]).catch(() => undefined);
    return result;
  };
  const answer = ({ changed, workflowUUIDs }: ChangeResult) => ({ changed, workflowUUIDs });
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
      url: VERSIONS_PATH,
      access: 'read',
      // Each stored version, its open workflows, and the live executors that have it loaded.
      handler: async () => (await runtime.systemDb.listVersions()).map(versionView),
    }),
    managementRoute(runtime, {
      method: 'GET',
      url: WORKFLOWS_PATH,
      access: 'read',
      query: 'filter',
      handler: async (request) => {
        const query = request.query as Record<string, unknown>;
        const filter = parseFilter(query, ['limit', 'cursor', 'token']);
        return workflowPage(runtime, filter, pageSize(query.limit), cursorOf(query));
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
    managementRoute(runtime, {
      method: 'POST',
      url: `${WORKFLOWS_PATH}/:uuid/cancel`,
      access: 'change',
      handler: async (request, _reply, caller) => {
        bodyFields(request.body, `POST ${WORKFLOWS_PATH}/:uuid/cancel`, []);
        return answer(await cancelWorkflows(systemPool, { workflowUUID: uuidOf(request) }, { actor: caller.user }, { appPool, ...deadlines }));
      },
    }),
    managementRoute(runtime, {
      method: 'POST',
      url: `${WORKFLOWS_PATH}/:uuid/resume`,
      access: 'change',
      handler: async (request, _reply, caller) => {
        // `{ version }`: resumed on other code, only if its records agree with that code.
        const { version } = bodyFields(request.body, `POST ${WORKFLOWS_PATH}/:uuid/resume`, ['version']);
        const moveTo = await checkedMoveOf(runtime, uuidOf(request), version);
        return answer(adopted(await resumeWorkflows(systemPool, { workflowUUID: uuidOf(request) }, { actor: caller.user }, { moveTo, appPool, ...deadlines })));
      },
    }),
    managementRoute(runtime, {
      method: 'POST',
      url: `${WORKFLOWS_PATH}/:uuid/restart`,
      access: 'change',
      handler: async (request, _reply, caller) => {
        // A restart is from step 0: a fork takes fromStep.
        bodyFields(request.body, `POST ${WORKFLOWS_PATH}/:uuid/restart`, []);
        const result = adopted(await forkWorkflow(systemPool, appPool, uuidOf(request), { fromStep: 0 }, { actor: caller.user }, 'restart'));
        return { workflowUUID: result.workflowUUIDs[0] };
      },
    }),
    managementRoute(runtime, {
      method: 'POST',
      url: `${WORKFLOWS_PATH}/:uuid/fork`,
      access: 'change',
      handler: async (request, _reply, caller) => {
        const fork = parseFork(request.body);
        const move = await forkMoveOf(runtime, uuidOf(request), fork.version, fork.fromStep);
        const result = adopted(await forkWorkflow(systemPool, appPool, uuidOf(request), fork, { actor: caller.user }, 'fork', move));
        return { workflowUUID: result.workflowUUIDs[0] };
      },
    }),
    managementRoute(runtime, {
      method: 'POST',
      url: `${WORKFLOWS_PATH}/cancel`,
      access: 'change',
      handler: async (request, _reply, caller) => {
        const { changed } = await cancelWorkflows(systemPool, { filter: parseFilter(request.body ?? {}) }, { actor: caller.user }, { appPool, ...deadlines });
        return { changed };
      },
    }),
    managementRoute(runtime, {
      method: 'POST',
      url: `${WORKFLOWS_PATH}/resume`,
      access: 'change',
      handler: async (request, _reply, caller) => {
        const { changed } = adopted(await resumeWorkflows(systemPool, { filter: parseFilter(request.body ?? {}) }, { actor: caller.user }, { appPool, ...deadlines }));
        return { changed };
      },
    }),
    managementRoute(runtime, {
      method: 'GET',
      url: AUDIT_PATH,
      access: 'read',
      query: ['limit', 'cursor'],
      handler: async (request) => {
        const query = request.query as Record<string, unknown>;
        return auditPage(systemPool, pageSize(query.limit), cursorOf(query));
      },
    }),
  ];
}
