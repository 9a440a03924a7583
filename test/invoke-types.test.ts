/**
 * Compile-time checks of the typed invoke proxies: `tsc -p test` (part of `pnpm test`) fails if
 * any line marked @ts-expect-error compiles. At run time this file only checks it loaded.
 */
import { describe, expect, it } from 'vitest';
import type { HandlerContext, WorkflowContext, WorkflowHandle } from '@operon/sdk';
import { StandardGreeter } from './fixtures/greeter.standard.js';

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
  void [greeting, child, result, handle, one, wrong];
}

describe('typed invoke', () => {
  it('is checked by the compiler', () => {
    expect(typeof typeChecks).toBe('function');
  });
});
