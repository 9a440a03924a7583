/**
 * Compile-time checks of stored arguments and results: `tsc -p test` (part of `pnpm check`) fails
 * if any line marked @ts-expect-error compiles. A function or a symbol as an argument or result of
 * a workflow or operation (itself, in an array or tuple, in a Map or Set) does not compile; data,
 * registered classes with methods, Dates, Maps of data and `any` do. At run time this file only
 * checks it loaded.
 */
import { describe, expect, it } from 'vitest';
import { Communicator, Transaction, Workflow, type CommunicatorContext, type HandlerContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { Money } from '../fixtures/value-samples.js';

class Shop {
  @Communicator()
  static async charge(_ctx: CommunicatorContext, amount: Money, when: Date, tags: Set<string>): Promise<Map<string, bigint>> {
    return new Map([[amount.currency, amount.cents]]);
  }

  @Communicator()
  static async withCallback(_ctx: CommunicatorContext, onDone: () => void): Promise<void> {
    onDone();
  }

  @Communicator()
  static async withCallbacks(_ctx: CommunicatorContext, handlers: Array<(n: number) => void>, byName: Map<string, () => void>): Promise<void> {
    void [handlers, byName];
  }

  @Transaction()
  static async withSymbol(_ctx: TransactionContext, key: symbol): Promise<number> {
    return key.toString().length;
  }

  @Transaction()
  static async returnsFunction(_ctx: TransactionContext): Promise<() => number> {
    return () => 1;
  }

  @Communicator()
  static async optional(_ctx: CommunicatorContext, label?: string | undefined, extra: unknown = null): Promise<string | undefined> {
    return `${label}${String(extra)}`;
  }

  @Communicator()
  static async loose(_ctx: CommunicatorContext, anything: any): Promise<any> {
    return anything;
  }

  @Workflow()
  static async order(_ctx: WorkflowContext, ids: [bigint, string], notify: (() => void) | string): Promise<string> {
    return `${ids[0]} ${String(notify)}`;
  }

  @Workflow()
  static async makesSymbol(_ctx: WorkflowContext): Promise<symbol> {
    return Symbol('s');
  }
}

async function typeChecks(ctx: WorkflowContext, handler: HandlerContext): Promise<void> {
  const totals: Map<string, bigint> = await ctx.invoke(Shop).charge(new Money(1n, 'EUR'), new Date(), new Set(['a']));
  await ctx.invoke(Shop).optional();
  await ctx.invoke(Shop).optional('x', { any: 'data' });
  await ctx.invoke(Shop).loose(() => 1);
  await ctx.invokeChildWorkflow(Shop).order([1n, 'a'], 'by mail');
  await handler.invoke(Shop).order([1n, 'a'], 'by mail');
  // @ts-expect-error: a function argument cannot be stored
  await ctx.invoke(Shop).withCallback(() => undefined);
  // @ts-expect-error: functions in an array and in a Map cannot be stored
  await ctx.invoke(Shop).withCallbacks([() => undefined], new Map([['a', () => undefined]]));
  // @ts-expect-error: a symbol cannot be stored
  await ctx.invoke(Shop).withSymbol(Symbol('k'));
  // @ts-expect-error: a result that is a function cannot be stored, so the call does not compile
  await ctx.invoke(Shop).returnsFunction();
  // @ts-expect-error: the function half of a union is refused
  await ctx.invokeChildWorkflow(Shop).order([1n, 'a'], () => undefined);
  // @ts-expect-error: from a handler too
  await handler.invoke(Shop).order([1n, 'a'], () => undefined);
  // @ts-expect-error: a workflow whose result is a symbol cannot be started
  await ctx.startChildWorkflow(Shop).makesSymbol();
  void totals;
}

describe('stored argument and result types', () => {
  it('are checked by the compiler', () => {
    expect(typeof typeChecks).toBe('function');
  });
});
