import { OperonError } from '@operon/sdk';

/** A testing-runtime helper was called wrongly: a bad duration, an unknown operation, or a helper the runtime's state does not allow. */
export class OperonTestingUsageError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_TESTING_USAGE';
  constructor(helper: string, problem: string) {
    super(`${helper}: ${problem}`);
  }
}

/**
 * The runtime died (crashAfter) while `advance` or `runUntilIdle` moved the clock: the helper
 * stopped there, with the clock at the crash, and says how much of the move is left for after
 * `recover()`.
 */
export class OperonTestingCrashedError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_TESTING_CRASHED';
  constructor(
    call: string,
    problem: string,
    /** The operation whose record the crash came right after ('Class.method'). */
    readonly operationName: string,
  ) {
    super(`${call}: ${problem}`);
  }
}

/**
 * A helper that waits for the runtime (advance, runUntilIdle, reset, recover, destroy) was awaited
 * from inside a workflow, transaction or communicator of its own runtime: it would wait for the very
 * code that awaits it, so it is refused at once.
 */
export class OperonTestingFromWorkflowError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_TESTING_FROM_WORKFLOW';
  constructor(
    readonly helper: string,
    /** 'Class.method' of the workflow whose code called the helper. */
    readonly functionName: string,
    readonly workflowUUID: string,
    why: string,
  ) {
    super(
      `${helper}: called from inside ${functionName} (workflow ${workflowUUID}) of this testing runtime: ${why}, so it would wait for the code that waits for it. ` +
        `Call the testing runtime's helpers from the test, never from a workflow, transaction or communicator`,
    );
  }
}
