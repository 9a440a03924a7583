/**
 * An app in two versions for the tests of moving a fork not yet adopted: `ledgerOf(1)`'s workflow
 * starts with a transaction, `ledgerOf(2)`'s with a communicator, so a transaction record at
 * operation 0 diverges on version 2. A bundle re-exporting `ledgerOf(n)` as `Ledger` is version n.
 */
import { fileURLToPath } from 'node:url';
import { Communicator, Transaction, Workflow, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { bundleOf, oncePerVersion } from './version-bundle.js';

/** Version n's class `Ledger` (one class per version and module copy). */
export const ledgerOf = oncePerVersion((n: 1 | 2) => {
  class Ledger {
    @Transaction()
    static async write(ctx: TransactionContext): Promise<string> {
      return (await ctx.client.query<{ v: string }>(`SELECT 'written' AS v`)).rows[0]!.v;
    }

    @Communicator()
    static async note(_ctx: CommunicatorContext): Promise<string> {
      return 'noted';
    }

    @Workflow()
    static async book(ctx: WorkflowContext): Promise<string> {
      const first = n === 1 ? await ctx.invoke(Ledger).write() : await ctx.invoke(Ledger).note();
      return `v${n}:${first}`;
    }
  }
  return Ledger;
});

const appFile = fileURLToPath(import.meta.url);

/** A bundle of version `n`; `tag` makes its hash new. */
export const ledgerBundle = (n: 1 | 2, tag: string) => bundleOf(appFile, 'ledgerOf', 'Ledger', n, tag);
