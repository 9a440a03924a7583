/**
 * The reads the API and the CLI share: a page of the list, one workflow in detail, its steps.
 * Each takes the runtime's pools and clock, so `operon workflows` answers exactly as the routes do.
 */
import { OperonWorkflowNotFoundError } from '@operon/sdk';
import type { OperonRuntime } from '../runtime.js';
import { type WorkflowFilter } from './workflow-filter.js';
import { childrenOf, getManagedWorkflow, listWorkflows, ownerState, queuePositionOf, stepRecords, type ManagedWorkflowRow } from './workflow-queries.js';
import { removedChildren } from './removed-children.js';
import { detailView, stepViews, summaryView, type StepView, type WorkflowDetailView, type WorkflowSummaryView } from './workflow-views.js';

export interface WorkflowPage {
  readonly workflows: WorkflowSummaryView[];
  /** Pass as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null;
}

export async function workflowPage(runtime: OperonRuntime, filter: WorkflowFilter, limit: number, cursor?: string): Promise<WorkflowPage> {
  const { rows, nextCursor } = await listWorkflows(runtime.systemDb.systemPool, filter, limit, cursor);
  return { workflows: rows.map(summaryView), nextCursor: nextCursor ?? null };
}

async function existing(runtime: OperonRuntime, workflowUUID: string): Promise<ManagedWorkflowRow> {
  const row = await getManagedWorkflow(runtime.systemDb.systemPool, workflowUUID);
  if (!row) throw new OperonWorkflowNotFoundError(workflowUUID);
  return row;
}

export async function workflowDetail(runtime: OperonRuntime, workflowUUID: string): Promise<WorkflowDetailView> {
  const row = await existing(runtime, workflowUUID);
  const { systemPool, appPool } = runtime.systemDb;
  const [children, removed, records, owner, queuePosition] = await Promise.all([
    childrenOf(systemPool, workflowUUID),
    removedChildren(systemPool, workflowUUID),
    stepRecords(systemPool, appPool, workflowUUID),
    row.owner === null ? undefined : ownerState(systemPool, row.owner),
    row.status === 'ENQUEUED' ? queuePositionOf(systemPool, row) : undefined,
  ]);
  return detailView({
    row,
    children,
    removedChildren: removed,
    records,
    owner,
    queuePosition,
    now: runtime.executor.deps.clock.now(),
    stuckAfterMs: runtime.config.management.stuckAfterSeconds * 1000,
  });
}

export async function workflowSteps(runtime: OperonRuntime, workflowUUID: string): Promise<StepView[]> {
  await existing(runtime, workflowUUID);
  const { systemPool, appPool } = runtime.systemDb;
  const [children, records] = await Promise.all([childrenOf(systemPool, workflowUUID), stepRecords(systemPool, appPool, workflowUUID)]);
  return stepViews(records, children, runtime.registry);
}
