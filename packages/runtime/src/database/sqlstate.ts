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
  /** statement_timeout passed (or the statement was cancelled). */
  QUERY_CANCELED: '57014',
  /** lock_timeout passed. */
  LOCK_NOT_AVAILABLE: '55P03',
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

/**
 * Server errors that say the session, not the statement, failed: class 08 (connection exception),
 * the server shutting down or starting (57P01-57P03), too many connections (53300).
 */
export function isSessionFailureState(code: string | undefined): boolean {
  return code !== undefined && (code.startsWith('08') || code === SQLSTATE.ADMIN_SHUTDOWN || code === '57P02' || code === SQLSTATE.CANNOT_CONNECT_NOW || code === '53300');
}
