/**
 * `operon start` must outlive a transaction that left a query floating: the query is refused once
 * the transaction ended (OPERON_ERR_TRANSACTION_ENDED, already logged as a warning naming the
 * transaction and its workflow), and a library's promise wrapped around it (knex, drizzle) may
 * reject with nobody listening. Node ends the process on an unhandled rejection; this one is the
 * app's mistake about a connection it no longer has, so it is logged and dropped. Any other
 * unhandled rejection still ends the process, as Node would.
 */
import { OperonTransactionEndedError } from '@operon/sdk';
import type { Logger } from './open-runtime.js';

function refusedQuery(reason: unknown): OperonTransactionEndedError | undefined {
  // A library may wrap the refusal (drizzle's query error keeps it as `cause`).
  for (let error = reason, depth = 0; typeof error === 'object' && error !== null && depth < 5; error = (error as { cause?: unknown }).cause, depth++) {
    if (error instanceof OperonTransactionEndedError) return error;
  }
  return undefined;
}

export function surviveFloatingQueries(logger: Logger): void {
  process.on('unhandledRejection', (reason) => {
    const refused = refusedQuery(reason);
    // Rethrown from here, it is an uncaught exception: the process ends as without this listener.
    if (!refused) throw reason;
    const where = refused.transaction ? `${refused.transaction} of workflow ${refused.workflowUUID}` : 'a transaction';
    logger.warn(`operon: ignored the unhandled rejection of a query ${where} sent after the transaction ended`);
  });
}
