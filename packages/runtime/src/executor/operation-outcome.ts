/**
 * How an operation's outcome becomes its record, and a record its result. Whatever the first run
 * saw, it returns what a replay would: the recorded output (JSON round trip), or the recorded error.
 */
import type { OperationRecord, SystemDatabase } from '../system-db/system-database.js';
import { deserialize, deserializeError, serializeError } from './serialization.js';

export interface OperationSiteRef {
  readonly workflowUUID: string;
  readonly functionID: number;
}

/** The result a record stands for: its output, or its error thrown. */
export function replayRecord<T>(record: OperationRecord): T {
  if (record.error !== null) throw deserializeError(record.error);
  return deserialize<T>(record.output);
}

/**
 * Records `outcome` (one statement) and returns the recorded result. If another run of the workflow
 * recorded this operation first, that record wins.
 */
export async function recordOutcome(
  systemDb: SystemDatabase,
  site: OperationSiteRef,
  functionName: string,
  outcome: { readonly output: string | null } | { readonly error: unknown },
): Promise<unknown> {
  const record =
    'error' in outcome
      ? { functionName, output: null, error: serializeError(outcome.error) }
      : { functionName, output: outcome.output, error: null };
  return replayRecord(await systemDb.recordOperation(site.workflowUUID, site.functionID, record));
}
