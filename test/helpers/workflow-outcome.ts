/** How a workflow ended, in a word, for tests of cancels. */
import { OperonWorkflowCancelledError } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';

/** 'finished', 'cancelled', the error it ended with as text, or 'still running' after `waitMs`. */
export function outcomeOf(runtime: OperonRuntime, uuid: string, waitMs: number): Promise<string> {
  return Promise.race([
    runtime.client.retrieveWorkflow(uuid).getResult().then(
      () => 'finished',
      (error: unknown) => (error instanceof OperonWorkflowCancelledError ? 'cancelled' : String(error)),
    ),
    new Promise<string>((resolve) => setTimeout(() => resolve('still running'), waitMs).unref()),
  ]);
}
