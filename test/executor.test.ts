import type { WorkflowHandle } from '@operon/sdk';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Communicator,
  OperonError,
  OperonNonDeterminismError,
  Transaction,
  Workflow,
  type CommunicatorContext,
  type TransactionContext,
  type WorkflowContext,
} from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { invokeByName, query, startRuntime, testConfig } from './helpers/test-databases.js';

class PaymentDeclined extends Error {
  constructor(readonly account: string, readonly detail: { reason: string }) {
    super(`payment for ${account} declined`);
    this.name = 'PaymentDeclined';
  }
}

const calls = { step: 0, flaky: 0, doomed: 0, once: 0, attemptTimes: [] as number[] };

class Shop {
  @Transaction()
  static async insertOrder(ctx: TransactionContext, item: string): Promise<number> {
    // Concurrent CREATE TABLE IF NOT EXISTS can still collide (42P07): tests here start workflows at once.
    await ctx.client.query("SELECT pg_advisory_xact_lock(hashtext('executor-test-orders'))");
    await ctx.client.query('CREATE TABLE IF NOT EXISTS orders (id serial primary key, item text)');
    const { rows } = await ctx.client.query<{ id: number }>('INSERT INTO orders(item) VALUES ($1) RETURNING id', [item]);
    return rows[0]!.id;
  }

  @Transaction({ readOnly: true })
  static async countOrders(ctx: TransactionContext): Promise<number> {
    const { rows } = await ctx.client.query<{ n: string }>('SELECT count(*) AS n FROM orders');
    return Number(rows[0]!.n);
  }

  @Communicator()
  static async step(_ctx: CommunicatorContext, label: string): Promise<{ label: string; at: number }> {
    calls.step++;
    return { label, at: calls.step };
  }

  @Communicator({ intervalSeconds: 0.05, backoffRate: 3, maxAttempts: 3 })
  static async flaky(ctx: CommunicatorContext): Promise<string> {
    calls.flaky++;
    calls.attemptTimes.push(Date.now());
    if (calls.flaky < 3) throw new Error(`flake ${calls.flaky}`);
    return `ok after ${calls.flaky} of ${ctx.maxAttempts}`;
  }

  @Communicator({ intervalSeconds: 0.01, maxAttempts: 4 })
  static async doomed(_ctx: CommunicatorContext, account: string): Promise<void> {
    calls.doomed++;
    throw new PaymentDeclined(account, { reason: 'insufficient funds' });
  }

  @Communicator({ retriesAllowed: false })
  static async once(_ctx: CommunicatorContext): Promise<void> {
    calls.once++;
    throw new Error('no retries');
  }

  @Workflow()
  static async order(ctx: WorkflowContext, item: string): Promise<string> {
    const a = await ctx.invoke(Shop).step('a');
    const id = await ctx.invoke(Shop).insertOrder(item);
    const b = await ctx.invoke(Shop).step('b');
    return `${item}#${id} ${a.label}${b.label} ${ctx.workflowUUID}`;
  }

  @Workflow()
  static async retrying(ctx: WorkflowContext): Promise<string> {
    return ctx.invoke(Shop).flaky();
  }

  @Workflow()
  static async declined(ctx: WorkflowContext, account: string): Promise<void> {
    await ctx.invoke(Shop).doomed(account);
  }

  @Workflow()
  static async noRetry(ctx: WorkflowContext): Promise<void> {
    await ctx.invoke(Shop).once();
  }

  @Workflow()
  static async parent(ctx: WorkflowContext, n: number): Promise<string[]> {
    const first = await ctx.startChildWorkflow(Shop).order(`child-${n}`);
    const second = await ctx.invokeChildWorkflow(Shop).order(`child-${n + 1}`);
    return [first.getWorkflowUUID(), await first.getResult(), second];
  }
}

const runtimes: OperonRuntime[] = [];
async function runtime(): Promise<OperonRuntime> {
  const rt = await startRuntime([Shop]);
  runtimes.push(rt);
  return rt;
}
afterAll(async () => {
  await Promise.all(runtimes.map((rt) => rt.destroy({ timeoutMs: 0 })));
});

function start(rt: OperonRuntime, name: string, args: unknown[], workflowUUID?: string) {
  return invokeByName<WorkflowHandle<unknown>>(rt, Shop, name, args, { workflowUUID });
}

describe('workflows, transactions and communicators', () => {
  it('runs a workflow and records its inputs, operations and output', async () => {
    const rt = await runtime();
    const handle = await start(rt, 'order', ['book'], 'wf-order-1');
    expect(await handle.getResult()).toBe('book#1 ab wf-order-1');
    const status = await handle.getStatus();
    expect(status).toMatchObject({ status: 'SUCCESS', workflowName: 'Shop.order', authenticatedUser: '' });
    const sys = rt.config.database.system_database;
    const app = rt.config.database.user_database;
    const [wf] = await query(sys, 'SELECT inputs, output FROM operon.workflow_status WHERE workflow_uuid = $1', ['wf-order-1']);
    expect(JSON.parse(wf.inputs)).toEqual(['book']);
    expect(JSON.parse(wf.output)).toBe('book#1 ab wf-order-1');
    const ops = await query(sys, 'SELECT function_id, function_name FROM operon.operation_outputs WHERE workflow_uuid = $1 ORDER BY 1', ['wf-order-1']);
    expect(ops).toEqual([
      { function_id: 0, function_name: 'Shop.step' },
      { function_id: 2, function_name: 'Shop.step' },
    ]);
    const txs = await query(app, 'SELECT function_id, function_name, output FROM operon.transaction_outputs WHERE workflow_uuid = $1', ['wf-order-1']);
    expect(txs).toEqual([{ function_id: 1, function_name: 'Shop.insertOrder', output: '1' }]);
  });

  it('retries a communicator with exponential backoff until it succeeds', async () => {
    const rt = await runtime();
    calls.flaky = 0;
    calls.attemptTimes = [];
    const handle = await start(rt, 'retrying', []);
    expect(await handle.getResult()).toBe('ok after 3 of 3');
    expect(calls.flaky).toBe(3);
    const [t0, t1, t2] = calls.attemptTimes as [number, number, number];
    expect(t1 - t0).toBeGreaterThanOrEqual(45);
    // backoffRate 3: the second wait is three times the first.
    expect(t2 - t1).toBeGreaterThanOrEqual(140);
  });

  it('gives the last error to the workflow after maxAttempts, keeping its name, message and fields', async () => {
    const rt = await runtime();
    calls.doomed = 0;
    const handle = await start(rt, 'declined', ['acct-9'], 'wf-declined');
    const error = await handle.getResult().catch((e: unknown) => e);
    expect(calls.doomed).toBe(4);
    expect(error).toMatchObject({ name: 'PaymentDeclined', message: 'payment for acct-9 declined', account: 'acct-9' });
    expect((await handle.getStatus())?.status).toBe('ERROR');
    // The recorded error, read back as another process would, is the same error.
    const replayed = await rt.client.retrieveWorkflow('wf-declined').getResult().catch((e: unknown) => e);
    expect(replayed).toMatchObject({ name: 'PaymentDeclined', message: 'payment for acct-9 declined', account: 'acct-9', detail: { reason: 'insufficient funds' } });
  });

  it('runs a communicator once when retries are not allowed', async () => {
    const rt = await runtime();
    calls.once = 0;
    await expect((await start(rt, 'noRetry', [])).getResult()).rejects.toThrow('no retries');
    expect(calls.once).toBe(1);
  });

  it('records a read-only transaction after it commits', async () => {
    const rt = await runtime();
    await (await start(rt, 'order', ['pen'])).getResult();
    const handle = await rt.executor.startOperation(rt.registry.lookup(Shop, 'countOrders'), [], { workflowUUID: 'count-1' });
    expect(await handle.getResult()).toBe(1);
    const ops = await query(rt.config.database.system_database, 'SELECT function_name, output FROM operon.operation_outputs WHERE workflow_uuid = $1', ['count-1']);
    expect(ops).toEqual([{ function_name: 'Shop.countOrders', output: '1' }]);
  });

  it('gives child workflows UUIDs derived from the parent, in the namespace no client UUID can enter', async () => {
    const rt = await runtime();
    const handle = await start(rt, 'parent', [1], 'parent-1');
    const [firstUUID, firstResult, second] = (await handle.getResult()) as string[];
    expect(firstUUID).toBe('parent-1~c0');
    expect(firstResult).toMatch(/^child-1#\d+ ab parent-1~c0$/);
    expect(second).toMatch(/^child-2#\d+ ab parent-1~c1$/);
    const rows = await query(rt.config.database.system_database, "SELECT workflow_uuid FROM operon.workflow_status WHERE parent_uuid = 'parent-1' ORDER BY 1");
    expect(rows.map((r) => r.workflow_uuid)).toEqual(['parent-1~c0', 'parent-1~c1']);
  });
});

describe('idempotency', () => {
  it('runs a workflow once under many concurrent starts of one UUID, in one process and across two', async () => {
    const config = testConfig('idem');
    const a = await startRuntime([Shop], config);
    const b = await startRuntime([Shop], config);
    runtimes.push(a, b);
    calls.step = 0;
    const handles = await Promise.all(
      Array.from({ length: 40 }, (_, i) => start(i % 2 ? a : b, 'order', ['same'], 'one-uuid')),
    );
    const results = await Promise.all(handles.map((h) => h.getResult()));
    expect(new Set(results)).toEqual(new Set(['same#1 ab one-uuid']));
    expect(calls.step).toBe(2);
    const rows = await query(config.database.user_database, "SELECT count(*)::int AS n FROM orders WHERE item = 'same'");
    expect(rows[0].n).toBe(1);
  });

  it('runs a transaction called from outside a workflow once per UUID', async () => {
    const rt = await runtime();
    const fn = rt.registry.lookup(Shop, 'insertOrder');
    const first = await (await rt.executor.startOperation(fn, ['tmp'], { workflowUUID: 'tx-1' })).getResult();
    const again = await (await rt.executor.startOperation(fn, ['tmp'], { workflowUUID: 'tx-1' })).getResult();
    expect(again).toBe(first);
    const rows = await query(rt.config.database.user_database, "SELECT count(*)::int AS n FROM orders WHERE item = 'tmp'");
    expect(rows[0].n).toBe(1);
  });
});

describe('recovery and replay', () => {
  it('resumes a PENDING workflow without re-running its completed operations, and rethrows recorded errors', async () => {
    const config = testConfig('recover');
    const gate = { release: () => {}, reached: () => {} };
    const reached = new Promise<void>((resolve) => (gate.reached = resolve));
    let blocked = true;
    const counts = { before: 0, after: 0 };
    class Resumable {
      @Communicator({ retriesAllowed: false })
      static async before(_ctx: CommunicatorContext): Promise<string> {
        counts.before++;
        throw new PaymentDeclined('acct-1', { reason: 'recorded' });
      }
      @Communicator()
      static async block(_ctx: CommunicatorContext): Promise<number> {
        if (blocked) {
          gate.reached();
          await new Promise(() => undefined); // the "crashed" process never gets further
        }
        counts.after++;
        return 7;
      }
      @Workflow()
      static async flow(ctx: WorkflowContext): Promise<string> {
        const err = await ctx.invoke(Resumable).before().catch((e: Error & { account?: string }) => `${e.name}:${e.account}`);
        const n = await ctx.invoke(Resumable).block();
        return `${err} ${n}`;
      }
    }
    const crashed = await startRuntime([Resumable], config);
    await crashed.client.invoke(Resumable, { workflowUUID: 'resume-me' }).flow();
    await reached;
    blocked = false;
    const recovering = await startRuntime([Resumable], config);
    runtimes.push(recovering);
    const result = await recovering.client.retrieveWorkflow('resume-me').getResult();
    expect(result).toBe('PaymentDeclined:acct-1 7');
    expect(counts).toEqual({ before: 1, after: 1 });
    await crashed.destroy({ timeoutMs: 0 });
  });

  it('fails a re-run that meets a record of another function with a non-determinism error naming both', async () => {
    const config = testConfig('nondet');
    const first = (() => {
      class Det {
        @Communicator()
        static async alpha(_ctx: CommunicatorContext): Promise<number> {
          return 1;
        }
        @Communicator()
        static async hang(_ctx: CommunicatorContext): Promise<number> {
          return new Promise(() => undefined);
        }
        @Workflow()
        static async flow(ctx: WorkflowContext): Promise<number> {
          await ctx.invoke(Det).alpha();
          return ctx.invoke(Det).hang();
        }
      }
      return Det;
    })();
    const second = (() => {
      class Det {
        @Communicator()
        static async beta(_ctx: CommunicatorContext): Promise<number> {
          return 2;
        }
        @Workflow()
        static async flow(ctx: WorkflowContext): Promise<number> {
          return ctx.invoke(Det).beta();
        }
      }
      return Det;
    })();
    const crashed = await startRuntime([first], config);
    await crashed.client.invoke(first, { workflowUUID: 'nd-1' }).flow();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const changed = await startRuntime([second], config);
    runtimes.push(changed);
    const error = await changed.client.retrieveWorkflow('nd-1').getResult().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperonNonDeterminismError);
    expect(error).toBeInstanceOf(OperonError);
    expect((error as Error).message).toContain('operation 0 called Det.beta, but the record at that id is of Det.alpha');
    await crashed.destroy({ timeoutMs: 0 });
  });
});
