import { OperonError } from '@operon/sdk';

/** A testing-runtime helper was called wrongly: a bad duration, an unknown operation, or a helper the runtime's state does not allow. */
export class OperonTestingUsageError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_TESTING_USAGE';
  constructor(helper: string, problem: string) {
    super(`${helper}: ${problem}`);
  }
}
