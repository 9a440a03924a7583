/**
 * An app in two versions for the held-outputs move regression test: `ledgerOf(1)`'s workflow
 * starts with a transaction, `ledgerOf(2)`'s with a communicator, so a transaction record at
 * operation 0 diverges on version 2. A bundle re-exporting `ledgerOf(n)` as `Ledger` is version n.
 */
import { fileURLToPath } from 'node:url';
import { Communicator, Transaction, Workflow, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { versionOf } from '../../packages/runtime/src/versions/bundle-version.js';

const made = new Map<1 | 2, unknown>();

export function ledgerOf(n: 1 | 2) {
  const cached = made.get(n);
  if (cached) return cached as ReturnType<typeof makeLedger>;
  const cls = makeLedger(n);
  made.set(n, cls);
  return cls;
}

function makeLedger(n: 1 | 2) {
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
}

const appFile = fileURLToPath(import.meta.url);

/** A bundle of version `n`; `tag` makes its hash new. */
export function ledgerBundle(n: 1 | 2, tag: string) {
  const bytes = Buffer.from(`import { ledgerOf } from ${JSON.stringify(appFile)};\nexport const Ledger = ledgerOf(${n}); // ${tag}\n`);
  return { version: versionOf(bytes), bundle: bytes, sourceMap: null };
}
