/**
 * Gaps of the testing runtime's helpers, each closed here:
 * - a transaction under way when crashAfter fired still committed (its COMMIT went out on the
 *   connection it held, before the sessions were ended), so recover() did not run it again where a
 *   killed process's would have run;
 * - crashAfter('Class.workflow') on a workflow started with invoke was accepted and never fired;
 * - runUntilIdle on a workflow that sleeps in a loop gave up only after 10,000 firings (minutes of
 *   real time, past any test's timeout);
 * - VirtualClock.at took a NaN deadline.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, OperonShutdownError, Transaction, Workflow, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, OperonTestingUsageError, type TestingRuntime } from '@operon/runtime';
import { VirtualClock } from '../../packages/runtime/src/executor/virtual-clock.js';
import { makeAppDir, type TestAppDir } from '../testing-runtime/app-dir.js';

const ran = new Map<string, number>();
const count = (name: string) => ran.set(name, (ran.get(name) ?? 0) + 1);

let bookStarted: () => void = () => undefined;
const bookHasStarted = new Promise<void>((resolve) => (bookStarted = resolve));
let letBookGo: () => void = () => undefined;
const bookHeld = new Promise<void>((resolve) => (letBookGo = resolve));

class Travel {
  @Communicator()
  static async quote(_ctx: CommunicatorContext): Promise<string> {
    count('quote');
    // Recorded only once the transaction is under way: the crash comes while it holds its connection.
    await bookHasStarted;
    return 'quoted';
  }

  @Transaction()
  static async book(ctx: TransactionContext, id: string): Promise<string> {
    count('book');
    bookStarted();
    await bookHeld;
    await ctx.client.query('INSERT INTO bookings (id) VALUES ($1)', [id]);
    return `booked ${id}`;
  }

  @Workflow()
  static async trip(ctx: WorkflowContext, id: string): Promise<string[]> {
    return Promise.all([ctx.invoke(Travel).quote(), ctx.invoke(Travel).book(id)]);
  }

  @Workflow()
  static async greet(_ctx: WorkflowContext, name: string): Promise<string> {
    count('greet');
    return `hello ${name}`;
  }

  @Workflow()
  static async poll(ctx: WorkflowContext): Promise<void> {
    for (;;) await ctx.sleep(60);
  }
}

let app: TestAppDir;
let testRuntime: TestingRuntime;

beforeAll(async () => {
  app = makeAppDir('crashgaps', { '001_bookings.sql': 'CREATE TABLE bookings (id TEXT NOT NULL);' });
  testRuntime = await createTestingRuntime([Travel], app.configPath, { clock: 'virtual' });
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

describe('crashAfter', () => {
  it('commits no transaction still under way at the crash: the recovery runs it again', async () => {
    testRuntime.crashAfter('Travel.quote');
    const handle = await testRuntime.invoke(Travel, 'trip-1').trip('t1');
    await expect(handle.getResult()).rejects.toBeInstanceOf(OperonShutdownError);
    // The dead runtime's transaction returns at once, on the connection it still holds.
    letBookGo();
    expect(await testRuntime.recover()).toBe(1);
    expect(await testRuntime.retrieveWorkflow('trip-1').getResult()).toEqual(['quoted', 'booked t1']);
    expect(ran.get('book')).toBe(2);
    expect(ran.get('quote')).toBe(1);
    // Only the recovered run's write committed.
    expect(await testRuntime.queryUserDB('SELECT id FROM bookings')).toEqual([{ id: 't1' }]);
  });

  it("on a top-level workflow started with invoke, dies right after the workflow's start record", async () => {
    testRuntime.crashAfter('Travel.greet');
    const handle = await testRuntime.invoke(Travel, 'greet-1').greet('Ada');
    await expect(handle.getResult()).rejects.toBeInstanceOf(OperonShutdownError);
    expect(testRuntime.crashed).toBe(true);
    expect(ran.get('greet')).toBeUndefined();
    expect(await testRuntime.recover()).toBe(1);
    expect(await testRuntime.retrieveWorkflow('greet-1').getResult()).toBe('hello Ada');
    expect(ran.get('greet')).toBe(1);
  });
});

describe('runUntilIdle', () => {
  it('on a workflow that sleeps in a loop fails within its budget, saying what to do', async () => {
    await testRuntime.invoke(Travel, 'poll-1').poll();
    const error = await testRuntime.runUntilIdle({ maxDeadlines: 5 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperonTestingUsageError);
    expect((error as Error).message).toMatch(/^runUntilIdle: fired 5 deadlines in \d+ ms of real time and more keep coming \(the next at .+\): a workflow that waits in a loop/);
    expect((error as Error).message).toContain("advance('1h')");
    // The default budget holds too, by firings or by real time.
    const byDefault = await testRuntime.runUntilIdle().catch((e: unknown) => e);
    expect((byDefault as Error).message).toMatch(/^runUntilIdle: fired \d+ deadlines in \d+ ms/);
    await expect(testRuntime.runUntilIdle({ timeoutMs: 0 })).rejects.toThrow(/options.timeoutMs must be a positive whole number, got 0/);
  }, 30_000);
});

describe('VirtualClock.at', () => {
  it('refuses a NaN deadline', () => {
    const clock = new VirtualClock(1000);
    expect(() => clock.at(Number.NaN, () => undefined)).toThrow(/VirtualClock.at: the deadline must be a time in epoch milliseconds, got NaN/);
    expect(clock.pendingCount).toBe(0);
    expect(clock.now()).toBe(1000);
  });
});
