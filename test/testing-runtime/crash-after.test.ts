/**
 * crashAfter('Class.method') kills the testing runtime right after that operation is recorded, as a
 * SIGKILL would (nothing more of any workflow runs or is written), and recover() resumes the
 * workflows as a restarted process would: every operation recorded before the crash is replayed,
 * never run again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, OperonShutdownError, Transaction, Workflow, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, OperonTestingUsageError, type TestingRuntime } from '@operon/runtime';
import { makeAppDir, type TestAppDir } from './app-dir.js';

/** How many times each operation's code ran, in this process. */
const ran = new Map<string, number>();
const count = (name: string) => ran.set(name, (ran.get(name) ?? 0) + 1);

class Orders {
  @Transaction()
  static async reserve(ctx: TransactionContext, order: string): Promise<number> {
    count('reserve');
    const { rows } = await ctx.client.query<{ id: number }>('INSERT INTO reservations(order_id) VALUES ($1) RETURNING id', [order]);
    return rows[0]!.id;
  }

  @Communicator()
  static async charge(_ctx: CommunicatorContext, order: string): Promise<string> {
    count('charge');
    return `charged ${order}`;
  }

  @Communicator()
  static async ship(_ctx: CommunicatorContext, order: string): Promise<string> {
    count('ship');
    return `shipped ${order}`;
  }

  @Workflow()
  static async place(ctx: WorkflowContext, order: string): Promise<string[]> {
    const id = await ctx.invoke(Orders).reserve(order);
    const charged = await ctx.invoke(Orders).charge(order);
    await ctx.sleep(3600);
    const shipped = await ctx.invoke(Orders).ship(order);
    return [`reservation ${id}`, charged, shipped];
  }
}

let app: TestAppDir;
let testRuntime: TestingRuntime;

beforeAll(async () => {
  app = makeAppDir('crashafter', { '001_reservations.sql': 'CREATE TABLE reservations (id SERIAL PRIMARY KEY, order_id TEXT NOT NULL);' });
  testRuntime = await createTestingRuntime([Orders], app.configPath, { clock: 'virtual' });
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

describe('crashAfter and recover', () => {
  it('die right after the named operation is recorded, and resume without running anything twice', async () => {
    ran.clear();
    testRuntime.crashAfter('Orders.charge');
    const handle = await testRuntime.invoke(Orders, 'order-1').place('order-1');
    // The workflow's caller sees what a killed process's caller would: the runtime went away.
    await expect(handle.getResult()).rejects.toBeInstanceOf(OperonShutdownError);
    expect(testRuntime.crashed).toBe(true);
    expect(Object.fromEntries(ran)).toEqual({ reserve: 1, charge: 1 });
    // Until the recovery, the runtime is gone.
    expect(() => testRuntime.invoke(Orders)).toThrow(/invoke: the runtime crashed \(crashAfter\); call recover\(\) first/);
    await expect(testRuntime.advance('1h')).rejects.toThrow(OperonTestingUsageError);

    expect(await testRuntime.recover()).toBe(1);
    expect(testRuntime.crashed).toBe(false);
    await testRuntime.advance('1h');
    expect(await testRuntime.retrieveWorkflow('order-1').getResult()).toEqual(['reservation 1', 'charged order-1', 'shipped order-1']);
    expect(Object.fromEntries(ran)).toEqual({ reserve: 1, charge: 1, ship: 1 });
    expect(await testRuntime.queryUserDB('SELECT order_id FROM reservations')).toEqual([{ order_id: 'order-1' }]);
  });

  it('crash after a transaction: its commit stands and it is not run again', async () => {
    ran.clear();
    testRuntime.crashAfter('Orders.reserve');
    const handle = await testRuntime.invoke(Orders, 'order-2').place('order-2');
    await expect(handle.getResult()).rejects.toBeInstanceOf(OperonShutdownError);
    expect(Object.fromEntries(ran)).toEqual({ reserve: 1 });
    await testRuntime.recover();
    await testRuntime.runUntilIdle();
    expect(await testRuntime.retrieveWorkflow('order-2').getResult()).toEqual(['reservation 2', 'charged order-2', 'shipped order-2']);
    expect(Object.fromEntries(ran)).toEqual({ reserve: 1, charge: 1, ship: 1 });
    expect(await testRuntime.queryUserDB("SELECT count(*)::int AS n FROM reservations WHERE order_id = 'order-2'")).toEqual([{ n: 1 }]);
  });

  it('refuses an operation that is not registered, and a recover() with no crash', async () => {
    expect(() => testRuntime.crashAfter('Orders.refund')).toThrow(/crashAfter: no registered operation is named "Orders.refund" \(operations: .*Orders.charge/);
    await expect(testRuntime.recover()).rejects.toThrow(/recover: the runtime has not crashed/);
  });
});
