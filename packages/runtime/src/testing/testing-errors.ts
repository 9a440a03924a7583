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
