/**
 * Which workflow's code the current call comes from, across its awaits: the testing runtime's
 * helpers use it to refuse being awaited from inside a workflow (or an operation it runs) of their
 * own runtime, which would otherwise wait for that very workflow to go quiet.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { SystemDatabase } from '../system-db/system-database.js';

export interface RunningWorkflow {
  readonly workflowUUID: string;
  /** 'Class.method' of the workflow (or of the one operation a direct invoke runs as a workflow). */
  readonly functionName: string;
  /** The system database of the runtime that runs it: which runtime the code belongs to. */
  readonly systemDb: SystemDatabase;
}

const running = new AsyncLocalStorage<RunningWorkflow>();

/** Runs `body` (a workflow's code) as `workflow`'s: everything it calls and awaits sees it. */
export function runAsWorkflow<T>(workflow: RunningWorkflow, body: () => T): T {
  return running.run(workflow, body);
}

/** The workflow whose code made the current call, if any. */
export function runningWorkflow(): RunningWorkflow | undefined {
  return running.getStore();
}
