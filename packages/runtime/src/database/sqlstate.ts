/** Postgres error codes Operon branches on (never on message text). */
export const SQLSTATE = {
  UNIQUE_VIOLATION: '23505',
  SERIALIZATION_FAILURE: '40001',
  DEADLOCK_DETECTED: '40P01',
  UNDEFINED_TABLE: '42P01',
  INVALID_CATALOG_NAME: '3D000',
  DUPLICATE_DATABASE: '42P04',
  ADMIN_SHUTDOWN: '57P01',
  CANNOT_CONNECT_NOW: '57P03',
  READ_ONLY_SQL_TRANSACTION: '25006',
} as const;

export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Errors after which the same transaction, run again, may succeed. */
export function isRetriableTransactionError(error: unknown): boolean {
  const code = sqlState(error);
  return code === SQLSTATE.SERIALIZATION_FAILURE || code === SQLSTATE.DEADLOCK_DETECTED;
}

const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH']);

/**
 * True when the database could not be reached or dropped the connection: the work may be retried
 * once it is back, and nothing should be recorded as the workflow's own failure.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = sqlState(error);
  if (code !== undefined) {
    if (code.startsWith('08') || code === SQLSTATE.ADMIN_SHUTDOWN || code === SQLSTATE.CANNOT_CONNECT_NOW) return true;
    if (code === '57P02' || code === '53300' || CONNECTION_ERROR_CODES.has(code)) return true;
  }
  const message = (error as { message?: unknown } | null)?.message;
  return (
    typeof message === 'string' &&
    /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|terminating connection/i.test(
      message,
    )
  );
}
