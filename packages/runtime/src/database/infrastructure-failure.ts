/**
 * Marks errors that came from Operon's own database work being cut off (server down, connection
 * dropped), as opposed to errors of the user's code. A workflow that fails with a marked error is
 * not recorded as failed: it stays PENDING and is run again once the database is back.
 */
import { isDatabaseUnavailable } from './sqlstate.js';

const INFRASTRUCTURE = Symbol.for('operon.infrastructureFailure');

export function isInfrastructureFailure(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[INFRASTRUCTURE] === true;
}

/** Marks `error` as a failure of the database, not of the user's code; returns it for rethrowing. */
export function markInfrastructure(error: unknown): unknown {
  if (typeof error === 'object' && error !== null) {
    Object.defineProperty(error, INFRASTRUCTURE, { value: true, enumerable: false, configurable: true });
  }
  return error;
}

/** Marks `error` if it says the database is unreachable; returns it for rethrowing. */
export function markIfUnavailable(error: unknown): unknown {
  return isDatabaseUnavailable(error) ? markInfrastructure(error) : error;
}

/** Runs Operon's own database work, marking connection failures. */
export async function guardDatabase<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    throw markIfUnavailable(error);
  }
}
