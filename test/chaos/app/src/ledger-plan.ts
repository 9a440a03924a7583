/**
 * What a transfer of the ledger saga is planned to do, and what it must end as: shared by the app
 * (which carries the plan out) and the harness (which checks the outcome against it).
 *
 *   ok                  debit, charge, completion: the transfer completes
 *   debitDeclined       the debit throws before writing anything: nothing to settle
 *   chargeDeclined      the charge (a communicator) throws after the debit: compensated
 *   completionRejected  the completion (a transaction) throws after its insert, which rolls back: compensated
 */
export const TRANSFER_PLANS = ['ok', 'debitDeclined', 'chargeDeclined', 'completionRejected'] as const;
export type TransferPlan = (typeof TRANSFER_PLANS)[number];

export type TransferStep = 'debit' | 'charge' | 'completion';

export interface TransferOutcome {
  readonly transferId: string;
  readonly outcome: 'completed' | 'declined' | 'compensated';
  /** The message of the error the saga caught, for `declined` and `compensated`. */
  readonly reason?: string;
}

/** The message of the error a step throws when the plan makes it fail. */
export function declinedMessage(step: TransferStep, transferId: string): string {
  return `${step} declined by plan for transfer ${transferId}`;
}

/** The step that fails in user code under `plan`, if any. */
export function failingStep(plan: TransferPlan): TransferStep | undefined {
  return plan === 'debitDeclined' ? 'debit' : plan === 'chargeDeclined' ? 'charge' : plan === 'completionRejected' ? 'completion' : undefined;
}

/** What the saga must answer for a transfer planned so. */
export function expectedOutcome(transferId: string, plan: TransferPlan): TransferOutcome {
  const step = failingStep(plan);
  if (step === undefined) return { transferId, outcome: 'completed' };
  return { transferId, outcome: step === 'debit' ? 'declined' : 'compensated', reason: declinedMessage(step, transferId) };
}

/** A line of the ledger's side log: one per run of the charge communicator. */
export interface ChargeLogLine {
  readonly transferId: string;
  readonly workflowUUID: string;
  readonly event: 'charged' | 'declined';
}
