import type { WorkflowHandle, WorkflowStatus } from '@operon/sdk';
import { OperonWorkflowCancelledError, OperonWorkflowNotFoundError, OperonWorkflowRetriesExceededError } from '@operon/sdk';
import { Backoff, delay } from '../backoff.js';
import type { SystemDatabase } from '../system-db/system-database.js';
import { toStatus } from '../system-db/workflow-status.js';
import { deserialize, deserializeError } from './serialization.js';
import { isInfrastructureFailure } from '../database/infrastructure-failure.js';

/** Polls for a result: from 20 ms, doubling up to 1 s. */
const RESULT_POLL = { initialMs: 20, maxMs: 1_000 } as const;

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
  const poll = new Backoff(RESULT_POLL);
  for (;;) {
    const row = await systemDb.getWorkflow(workflowUUID).catch((error: unknown) => {
      if (isInfrastructureFailure(error)) return 'unavailable' as const;
      throw error;
    });
    if (row === 'unavailable') {
      await delay(RESULT_POLL.maxMs);
      continue;
    }
    if (!row) throw new OperonWorkflowNotFoundError(workflowUUID);
    if (row.status === 'SUCCESS') return deserialize<R>(row.output);
    if (row.status === 'RETRIES_EXCEEDED') throw new OperonWorkflowRetriesExceededError(workflowUUID);
    if (row.status === 'CANCELLED') throw new OperonWorkflowCancelledError(workflowUUID);
    if (row.status === 'ERROR' && row.error !== null) throw deserializeError(row.error);
    if (row.status !== 'PENDING' && row.status !== 'ENQUEUED') {
      throw deserializeError(JSON.stringify({ name: 'Error', message: `workflow ${workflowUUID} ended with status ${row.status}`, fields: {} }));
    }
    await poll.wait();
  }
}
