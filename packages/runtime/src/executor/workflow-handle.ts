import type { WorkflowHandle, WorkflowStatus } from '@operon/sdk';
import { OperonWorkflowNotFoundError } from '@operon/sdk';
import type { SystemDatabase } from '../system-db/system-database.js';
import { toStatus } from '../system-db/workflow-status.js';
import { deserialize, deserializeError } from './serialization.js';
import { isInfrastructureFailure } from '../database/infrastructure-failure.js';

const POLL_START_MS = 20;
const POLL_MAX_MS = 1_000;

/** A handle whose result comes from a promise of this process (the workflow runs here). */
export function localHandle<R>(systemDb: SystemDatabase, workflowUUID: string, result: Promise<R>): WorkflowHandle<R> {
  return {
    getWorkflowUUID: () => workflowUUID,
    getStatus: () => statusOf(systemDb, workflowUUID),
    getResult: () => result,
  };
}

/** A handle to a workflow that may run anywhere: its result is read from the system database. */
export function recordedHandle<R>(systemDb: SystemDatabase, workflowUUID: string): WorkflowHandle<R> {
  return {
    getWorkflowUUID: () => workflowUUID,
    getStatus: () => statusOf(systemDb, workflowUUID),
    getResult: () => awaitRecordedResult<R>(systemDb, workflowUUID),
  };
}

async function statusOf(systemDb: SystemDatabase, workflowUUID: string): Promise<WorkflowStatus | null> {
  const row = await systemDb.getWorkflow(workflowUUID);
  return row ? toStatus(row) : null;
}

/**
 * Waits until the workflow's status is final, then returns its output or throws its error. A poll
 * cut off by the database going away is only a poll that found nothing new: the wait goes on.
 */
export async function awaitRecordedResult<R>(systemDb: SystemDatabase, workflowUUID: string): Promise<R> {
  let wait = POLL_START_MS;
  for (;;) {
    const row = await systemDb.getWorkflow(workflowUUID).catch((error: unknown) => {
      if (isInfrastructureFailure(error)) return 'unavailable' as const;
      throw error;
    });
    if (row === 'unavailable') {
      await new Promise((resolve) => setTimeout(resolve, POLL_MAX_MS));
      continue;
    }
    if (!row) throw new OperonWorkflowNotFoundError(workflowUUID);
    if (row.status === 'SUCCESS') return deserialize<R>(row.output);
    if (row.status !== 'PENDING') throw deserializeError(row.error ?? JSON.stringify({ name: 'Error', message: `workflow ${workflowUUID} ended with status ${row.status}`, fields: {} }));
    await new Promise((resolve) => setTimeout(resolve, wait));
    wait = Math.min(wait * 2, POLL_MAX_MS);
  }
}
