/**
 * A saga that catches errors and compensates, as app code does: a transfer debits the ledger
 * (transaction), charges a card (communicator, its side effect a line in the ledger log) and
 * records the completion (transaction). If a step after the debit throws, the saga's `catch`
 * records a compensation for the debit, with the message of the error it caught.
 *
 * The invariant the harness checks at the end: every debit has exactly one settlement (a
 * completion or a compensation), and a compensation happens only when a step really failed in
 * user code, as the transfer's plan made it. An error that is not the app's own (a lost
 * connection, a lost answer to a COMMIT, a shutdown) must never reach this `catch`.
 */
import { appendFileSync } from 'node:fs';
import {
  Authentication,
  Communicator,
  PostApi,
  Transaction,
  Workflow,
  type CommunicatorContext,
  type HandlerContext,
  type TransactionContext,
  type WorkflowContext,
} from '@operon/sdk';
import { callerFromHeader } from './caller.js';
import { COMMIT_CUT_MARK } from './commit-cut-mark.js';
import { TRANSFER_PLANS, declinedMessage, type ChargeLogLine, type TransferOutcome, type TransferPlan } from './ledger-plan.js';

const TRANSFER_BODY_SCHEMA = {
  type: 'object',
  required: ['transferId', 'amount', 'plan'],
  additionalProperties: false,
  properties: {
    transferId: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._:-]+$' },
    amount: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    plan: { enum: [...TRANSFER_PLANS] },
  },
};

@Authentication(callerFromHeader)
export class ChaosLedger {
  /** Its output carries the commit-cut mark, so the fault can lose the answer to this very COMMIT. */
  @Transaction()
  static async debit(ctx: TransactionContext, transferId: string, amount: number, plan: TransferPlan): Promise<string> {
    if (plan === 'debitDeclined') throw new Error(declinedMessage('debit', transferId));
    await ctx.client.query("INSERT INTO chaos_ledger (transfer_id, kind, amount, workflow_uuid) VALUES ($1, 'debit', $2, $3)", [
      transferId,
      amount,
      ctx.workflowUUID,
    ]);
    return `${COMMIT_CUT_MARK}:debit:${transferId}`;
  }

  /** No retries: a decline is final, and each run leaves one line in the ledger log. */
  @Communicator({ retriesAllowed: false })
  static async charge(ctx: CommunicatorContext, transferId: string, plan: TransferPlan): Promise<string> {
    const declined = plan === 'chargeDeclined';
    const line: ChargeLogLine = { transferId, workflowUUID: ctx.workflowUUID, event: declined ? 'declined' : 'charged' };
    appendFileSync(ctx.getConfig<string>('ledgerLog')!, `${JSON.stringify(line)}\n`);
    if (declined) throw new Error(declinedMessage('charge', transferId));
    return `${COMMIT_CUT_MARK}:charge:${transferId}`;
  }

  @Transaction()
  static async complete(ctx: TransactionContext, transferId: string, amount: number, plan: TransferPlan): Promise<void> {
    await ctx.client.query("INSERT INTO chaos_ledger (transfer_id, kind, amount, workflow_uuid) VALUES ($1, 'completion', $2, $3)", [
      transferId,
      amount,
      ctx.workflowUUID,
    ]);
    // After the insert: the transaction rolls back, and the completion must not stay.
    if (plan === 'completionRejected') throw new Error(declinedMessage('completion', transferId));
  }

  @Transaction()
  static async compensate(ctx: TransactionContext, transferId: string, amount: number, reason: string): Promise<void> {
    await ctx.client.query(
      "INSERT INTO chaos_ledger (transfer_id, kind, amount, reason, workflow_uuid) VALUES ($1, 'compensation', $2, $3, $4)",
      [transferId, amount, reason, ctx.workflowUUID],
    );
  }

  @Workflow()
  static async transfer(ctx: WorkflowContext, transferId: string, amount: number, plan: TransferPlan): Promise<TransferOutcome> {
    let debited = false;
    try {
      await ctx.invoke(ChaosLedger).debit(transferId, amount, plan);
      debited = true;
      await ctx.invoke(ChaosLedger).charge(transferId, plan);
      await ctx.invoke(ChaosLedger).complete(transferId, amount, plan);
      return { transferId, outcome: 'completed' };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (!debited) return { transferId, outcome: 'declined', reason };
      await ctx.invoke(ChaosLedger).compensate(transferId, amount, reason);
      return { transferId, outcome: 'compensated', reason };
    }
  }

  @PostApi('/transfers', { schema: { body: TRANSFER_BODY_SCHEMA } })
  static async postTransfer(ctx: HandlerContext, transferId: string, amount: number, plan: TransferPlan): Promise<TransferOutcome> {
    const handle = await ctx.invoke(ChaosLedger).transfer(transferId, amount, plan);
    return handle.getResult();
  }
}
