/**
 * Tells the runtime's own database failures from the app's errors, by where an error was raised
 * and by SQLSTATE, never by its message. Every error raised by one of Operon's own database calls
 * (the system database facade, a transaction's BEGIN, output INSERT and COMMIT, the pool) is marked
 * as infrastructure where it is raised; an error the app's code throws never is. A marked error
 * never reaches workflow code: the step that met it waits for the database, reads what was
 * recorded, and goes on from there.
 */
import pg from 'pg';
import { isSessionFailureState, sqlState } from './sqlstate.js';

const INFRASTRUCTURE = Symbol.for('operon.infrastructureFailure');

export function isInfrastructureFailure(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[INFRASTRUCTURE] === true;
}

/** Marks `error` as raised by Operon's own database work; returns it (an Error) for rethrowing. */
export function markInfrastructure(error: unknown): Error {
  const marked = error instanceof Error ? error : new Error(`database call failed: ${String(error)}`);
  Object.defineProperty(marked, INFRASTRUCTURE, { value: true, enumerable: false, configurable: true });
  return marked;
}

/** Runs one of Operon's own database calls: whatever it raises is infrastructure. */
export async function guardDatabase<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    throw markInfrastructure(error);
  }
}

/**
 * The connection, not the statement, failed: an error the driver or the socket raised (no server
 * error at all), or a server error whose SQLSTATE says the session was lost or refused.
 */
export function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof pg.DatabaseError)) return true;
  return isSessionFailureState(sqlState(error));
}
