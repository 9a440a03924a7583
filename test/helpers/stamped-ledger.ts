/**
 * A workflow of three transactions whose values name the workflow that ran them, for the fork
 * tests: a record a fork copied shows its original's UUID, one it ran itself its own.
 */
import { Transaction, Workflow, type TransactionContext, type WorkflowContext } from '@operon/sdk';

export class Ledger {
  @Transaction()
  static async write(ctx: TransactionContext, tag: string, step: number): Promise<string> {
    const { rows } = await ctx.client.query<{ v: string }>('SELECT $1::text AS v', [`${tag}${step}@${ctx.workflowUUID}`]);
    return rows[0]!.v;
  }

  @Workflow()
  static async book(ctx: WorkflowContext, tag: string): Promise<string[]> {
    const out: string[] = [];
    for (let step = 0; step < 3; step++) out.push(await ctx.invoke(Ledger).write(tag, step));
    return out;
  }
}

/** What `book(source)` forked from `fromStep` into `target` returns: the original's values before the step, its own after. */
export function forkOf(source: string, fromStep: number, target: string): string[] {
  return [0, 1, 2].map((step) => `${source}${step}@${step < fromStep ? source : target}`);
}
