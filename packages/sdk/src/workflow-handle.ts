import type { Identity } from './context.js';

export type WorkflowStatusName = 'ENQUEUED' | 'PENDING' | 'SUCCESS' | 'ERROR' | 'CANCELLED' | 'RETRIES_EXCEEDED';

export interface WorkflowStatus extends Identity {
  readonly status: WorkflowStatusName;
  readonly workflowName: string;
  /** The HTTP request that started the workflow, if one did (method, url, headers). */
  readonly request: unknown;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A reference to a workflow, running or finished, in this process or another. */
export interface WorkflowHandle<R> {
  getWorkflowUUID(): string;
  /** The recorded status, or null if no workflow has this UUID. */
  getStatus(): Promise<WorkflowStatus | null>;
  /** Waits for the workflow to end; returns its result or rethrows its error. */
  getResult(): Promise<R>;
}
