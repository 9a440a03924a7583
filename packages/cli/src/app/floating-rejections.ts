/**
 * `operon start` must outlive a transaction that left a query floating: the query is refused once
 * the transaction ended (OPERON_ERR_TRANSACTION_ENDED, already logged as a warning naming the
 * transaction and its workflow), and a library's promise wrapped around it (knex, drizzle) may
 * reject with nobody listening. Node ends the process on an unhandled rejection; this one is the
 * app's mistake about a connection it no longer has, so it is logged and dropped. So is Node's
 * second report of the error a version's import failed with (the load was logged and is tried
 * again; one such process must not end because a version's CommonJS dependency threw). Any other
 * unhandled rejection is left as Node would leave it without this listener: to the app's own
 * listeners if it has any, or to an `--unhandled-rejections` mode that does not throw; else it
 * ends the process.
 */
import { OperonTransactionEndedError } from '@operon/sdk';
import { isFailedVersionImport } from '@operon/runtime';
import type { Logger } from './open-runtime.js';

function refusedQuery(reason: unknown): OperonTransactionEndedError | undefined {
  // A library may wrap the refusal (drizzle's query error keeps it as `cause`).
  for (let error = reason, depth = 0; typeof error === 'object' && error !== null && depth < 5; error = (error as { cause?: unknown }).cause, depth++) {
    if (error instanceof OperonTransactionEndedError) return error;
  }
  return undefined;
}

/** The `--unhandled-rejections` mode given on the command line or in NODE_OPTIONS (the last one wins), if any. */
function rejectionMode(): string | undefined {
  const flags = [...(process.env.NODE_OPTIONS ?? '').split(/\s+/), ...process.execArgv];
  let mode: string | undefined;
  for (const flag of flags) {
    const match = /^--unhandled-rejections=(.+)$/.exec(flag);
    if (match) mode = match[1];
  }
  return mode;
}

/** Whether Node, without this listener, would end the process on an unhandled rejection. */
function nodeWouldThrow(listener: (...args: unknown[]) => void): boolean {
  // Another listener (the app's own) means Node would leave the rejection to it.
  if (process.listeners('unhandledRejection').some((other) => other !== listener)) return false;
  const mode = rejectionMode();
  return mode === undefined || mode === 'throw' || mode === 'strict';
}

export function surviveFloatingQueries(logger: Logger): void {
  const listener = (reason: unknown): void => {
    // Node's second report of a version's failed import (a CommonJS file that threw): the load failed, was logged, and is tried again.
    if (isFailedVersionImport(reason)) {
      logger.debug(`operon: ignored the unhandled rejection of a version's failed import (${String(reason instanceof Error ? reason.message : reason).split('\n')[0]})`);
      return;
    }
    const refused = refusedQuery(reason);
    if (!refused) {
      // Rethrown from here, it is an uncaught exception: the process ends as without this listener.
      if (nodeWouldThrow(listener as (...args: unknown[]) => void)) throw reason;
      if (rejectionMode() === 'warn-with-error-code') process.exitCode = 1;
      return;
    }
    const where = refused.transaction ? `${refused.transaction} of workflow ${refused.workflowUUID}` : 'a transaction';
    logger.warn(`operon: ignored the unhandled rejection of a query ${where} sent after the transaction ended`);
  };
  process.on('unhandledRejection', listener);
}
