/**
 * Compile-time checks of the typed invoke proxies: `tsc -p test` (part of `pnpm test`) fails if
 * any line marked @ts-expect-error compiles. At run time this file only checks it loaded.
 */
import { describe, expect, it } from 'vitest';
import { Transaction, Workflow, WorkflowQueue, type HandlerContext, type TransactionContext, type WorkflowContext, type WorkflowHandle } from '@operon/sdk';
import { StandardGreeter } from './fixtures/greeter.standard.js';

/**
 * Workflows with no return annotation that return a call through the typed proxies of their own
 * class: each must infer its return type (before, the proxy read every member's type to pick its
 * keys, so this class failed to compile with TS7023).
 */
class Inferred {
  @Transaction()
  static async increment(_ctx: TransactionContext, n: number): Promise<number> {
    return n + 1;
  }

  @Workflow()
  static async viaInvoke(ctx: WorkflowContext, n: number) {
    return ctx.invoke(Inferred).increment(n);
  }

  @Workflow()
  static async viaChild(ctx: WorkflowContext, n: number) {
    const twice = await ctx.invokeChildWorkflow(Inferred).viaInvoke(n);
    return ctx.invoke(Inferred).increment(twice);
  }

  @Workflow()
  static async viaHandle(ctx: WorkflowContext, n: number) {
    const handle = await ctx.startChildWorkflow(Inferred).viaChild(n);
    return handle.getResult();
  }
}

async function inferredChecks(ctx: WorkflowContext, handler: HandlerContext): Promise<void> {
  const a: number = await Inferred.viaInvoke(ctx, 1);
  const b: number = await ctx.invokeChildWorkflow(Inferred).viaChild(1);
  const c: WorkflowHandle<number> = await handler.invoke(Inferred).viaHandle(1);
  // @ts-expect-error: the inferred result is a number
  const d: string = await ctx.invokeChildWorkflow(Inferred).viaInvoke(1);
  // @ts-expect-error: a workflow is still not an operation of a workflow
  await ctx.invoke(Inferred).viaInvoke(1);
  // @ts-expect-error: a transaction is still not a child workflow
  await ctx.startChildWorkflow(Inferred).increment(1);
  // @ts-expect-error: nor is a class's prototype a call
  await handler.invoke(Inferred).prototype(1);
  void [a, b, c, d];
}

async function typeChecks(ctx: WorkflowContext, handler: HandlerContext): Promise<void> {
  const greeting: string = await ctx.invoke(StandardGreeter).remember('ada');
  // @ts-expect-error: wrong argument type
  await ctx.invoke(StandardGreeter).remember(42);
  // @ts-expect-error: missing argument
  await ctx.invoke(StandardGreeter).remember();
  // @ts-expect-error: a workflow is not an operation of a workflow
  await ctx.invoke(StandardGreeter).greet('ada');
  // @ts-expect-error: a transaction is not a child workflow
  await ctx.startChildWorkflow(StandardGreeter).now();
  const child: WorkflowHandle<string> = await ctx.startChildWorkflow(StandardGreeter).greet('ada');
  const result: string = await ctx.invokeChildWorkflow(StandardGreeter).greet('ada');
  const handle: WorkflowHandle<string> = await handler.invoke(StandardGreeter).greet('ada');
  const one: number = await handler.invoke(StandardGreeter).now();
  // @ts-expect-error: a handler's workflow call returns a handle, not the result
  const wrong: string = await handler.invoke(StandardGreeter).greet('ada');
  const queue = new WorkflowQueue('invoke-types', { concurrency: 1 });
  const queued: WorkflowHandle<string> = await handler.invoke(StandardGreeter, { queue, priority: 1, deduplicationID: 'd', delaySeconds: 2 }).greet('ada');
  const queuedChild: WorkflowHandle<string> = await ctx.startChildWorkflow(StandardGreeter, { queue, partitionKey: 'p' }).greet('ada');
  const byUUID: WorkflowHandle<string> = await handler.invoke(StandardGreeter, { workflowUUID: 'u' }).greet('ada');
  // @ts-expect-error: only workflows can be enqueued
  await handler.invoke(StandardGreeter, { queue }).now();
  // @ts-expect-error: priority is a number
  await handler.invoke(StandardGreeter, { queue, priority: 'high' }).greet('ada');
  // @ts-expect-error: a child's queue options need the queue
  await ctx.startChildWorkflow(StandardGreeter, { priority: 1 }).greet('ada');
  // @ts-expect-error: queue options are not a string
  await handler.invoke(StandardGreeter, { queue: 'emails' }).greet('ada');
  void [greeting, child, result, handle, one, wrong, queued, queuedChild, byUUID];
}

describe('typed invoke', () => {
  it('is checked by the compiler', () => {
    expect(typeof typeChecks).toBe('function');
    expect(typeof inferredChecks).toBe('function');
  });
});
