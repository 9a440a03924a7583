/**
 * What a step does where the record and the code meet. A live run runs an operation that has no
 * record yet and refuses a record of another function; a replay (`operon debug`) runs nothing:
 * a missing record or another function ends the replay, which reports where. Replay is this
 * policy passed to the same step, not a second implementation of it.
 */
import { OperonNonDeterminismError } from '@operon/sdk';
import type { OperationRecord } from '../system-db/system-database.js';

export interface StepPolicy {
  /** Runs operations that have no record yet; false for a replay. */
  readonly runs: boolean;
  /** Sleeps wait for their deadline; a replay does not. */
  readonly waits: boolean;
  /** Called as each step begins; a replay that already stopped throws again here. */
  beforeStep(): void;
  /** No record at `functionID` and the policy does not run operations: throws. */
  missing(workflowUUID: string, functionID: number, functionName: string): never;
  /** The record at `functionID` is of another function: throws. */
  mismatch(workflowUUID: string, functionID: number, functionName: string, recordedName: string): never;
  /** A record was found (or written) for `functionID` and matches. */
  matched(functionID: number, functionName: string, record: OperationRecord): void;
}

/** The policy of every real run. */
export const LIVE_POLICY: StepPolicy = Object.freeze({
  runs: true,
  waits: true,
  beforeStep: () => undefined,
  missing(_workflowUUID: string, functionID: number, functionName: string): never {
    throw new Error(`operation ${functionID} (${functionName}) has no record, and a live run always runs it`);
  },
  mismatch(workflowUUID: string, functionID: number, functionName: string, recordedName: string): never {
    throw new OperonNonDeterminismError(workflowUUID, functionID, functionName, recordedName);
  },
  matched: () => undefined,
});
