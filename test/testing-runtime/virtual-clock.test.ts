/**
 * createTestingRuntime(..., { clock: 'virtual' }): durable sleeps and recv/getEvent timeouts end
 * only when advance() or runUntilIdle() moves the clock to them, in deadline order, each at its own
 * instant, on the real Postgres.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, OperonTestingUsageError, type TestingRuntime } from '@operon/runtime';
import { makeAppDir, type TestAppDir } from './app-dir.js';

let testRuntime: TestingRuntime;
/** What ran, with the virtual time it ran at (ms since the clock's start). */
const stamps: [string, number][] = [];
let startedAt = 0;

class Reminders {
  @Communicator()
  static async stamp(_ctx: CommunicatorContext, what: string): Promise<void> {
    stamps.push([what, testRuntime.now() - startedAt]);
  }

  @Workflow()
  static async remind(ctx: WorkflowContext, name: string, seconds: number): Promise<string> {
    await ctx.sleep(seconds);
    await ctx.invoke(Reminders).stamp(name);
    return `reminded ${name}`;
  }

  @Workflow()
  static async steps(ctx: WorkflowContext): Promise<void> {
    for (const seconds of [10, 20, 30]) {
      await ctx.sleep(seconds);
      await ctx.invoke(Reminders).stamp(`after ${seconds}`);
    }
  }

  @Workflow()
  static async awaitReply(ctx: WorkflowContext, timeoutSeconds: number): Promise<string> {
    const reply = await ctx.recv<string>('reply', timeoutSeconds);
    await ctx.invoke(Reminders).stamp(`reply ${reply}`);
    return reply ?? 'timed out';
  }
}

let app: TestAppDir;

beforeAll(async () => {
  app = makeAppDir('vclock', {});
  testRuntime = await createTestingRuntime([Reminders], app.configPath, { clock: 'virtual' });
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

describe('a testing runtime on a virtual clock', () => {
  it('ends a sleep when advance() reaches its deadline, not before', async () => {
    stamps.length = 0;
    startedAt = testRuntime.now();
    const hour = await testRuntime.invoke(Reminders).remind('hour', 3600);
    const day = await testRuntime.invoke(Reminders).remind('day', 86_400);
    await testRuntime.advance('59m');
    expect(stamps).toEqual([]);
    expect((await hour.getStatus())?.status).toBe('PENDING');
    await testRuntime.advance(60_000);
    expect(stamps).toEqual([['hour', 3_600_000]]);
    expect(await hour.getResult()).toBe('reminded hour');
    await testRuntime.advance('23h');
    expect(await day.getResult()).toBe('reminded day');
    expect(stamps).toEqual([['hour', 3_600_000], ['day', 86_400_000]]);
    expect(testRuntime.now() - startedAt).toBe(86_400_000);
  });

  it('fires the deadlines a woken workflow sets within the same advance, each at its own instant', async () => {
    stamps.length = 0;
    startedAt = testRuntime.now();
    const handle = await testRuntime.invoke(Reminders).steps();
    await testRuntime.advance('2m');
    await handle.getResult();
    expect(stamps).toEqual([['after 10', 10_000], ['after 20', 30_000], ['after 30', 60_000]]);
    expect(testRuntime.now() - startedAt).toBe(120_000);
  });

  it('ends recv and getEvent timeouts by the virtual clock; a message sent in time is received', async () => {
    stamps.length = 0;
    startedAt = testRuntime.now();
    const answered = await testRuntime.invoke(Reminders).awaitReply(60);
    const unanswered = await testRuntime.invoke(Reminders).awaitReply(30);
    const read = testRuntime.getEvent(unanswered.getWorkflowUUID(), 'never-set', 45);
    await testRuntime.advance('10s');
    await testRuntime.send(answered.getWorkflowUUID(), 'yes', 'reply');
    expect(await answered.getResult()).toBe('yes');
    await testRuntime.advance('1m');
    expect(await unanswered.getResult()).toBe('timed out');
    expect(await read).toBeNull();
    expect(stamps.map(([what]) => what)).toEqual(['reply yes', 'reply null']);
    expect(stamps[1]![1]).toBe(30_000);
  });

  it('runUntilIdle() fires every pending deadline in order, a 30-day sleep among them, in real milliseconds', async () => {
    stamps.length = 0;
    startedAt = testRuntime.now();
    const month = await testRuntime.invoke(Reminders).remind('month', 30 * 86_400);
    const week = await testRuntime.invoke(Reminders).remind('week', 7 * 86_400);
    const began = performance.now();
    await testRuntime.runUntilIdle();
    console.log(`virtual clock: 30 days of sleeps ended in ${Math.round(performance.now() - began)} ms of real time`);
    expect(await month.getResult()).toBe('reminded month');
    expect(await week.getResult()).toBe('reminded week');
    expect(stamps).toEqual([['week', 7 * 86_400_000], ['month', 30 * 86_400_000]]);
  });

  it('refuses a bad duration, naming it', async () => {
    await expect(testRuntime.advance('5 weeks' as never)).rejects.toThrow(OperonTestingUsageError);
    await expect(testRuntime.advance(-1)).rejects.toThrow(/advance: the duration must be .* got -1/);
    await expect(testRuntime.advance('2x' as never)).rejects.toThrow(/got '2x'/);
  });
});

describe("a testing runtime on the database's clock", () => {
  it('refuses advance() and runUntilIdle(), saying how to get a virtual clock', async () => {
    const other = makeAppDir('realclock', {});
    const real = await createTestingRuntime([Reminders], other.configPath);
    try {
      await expect(real.advance('1s')).rejects.toThrow(/advance: the runtime is on the database's clock; create it with \{ clock: 'virtual' \}/);
      await expect(real.runUntilIdle()).rejects.toThrow(OperonTestingUsageError);
      expect(Math.abs(real.now() - Date.now())).toBeLessThan(60_000);
    } finally {
      await real.destroy();
      other.remove();
    }
  });

  it('a second testing runtime on the databases of a live one is refused, naming them', async () => {
    await expect(createTestingRuntime([Reminders], app.configPath)).rejects.toThrow(
      /createTestingRuntime: another testing runtime of this process runs on \S+_app_test(_\d+)?, \S+_sys_test(_\d+)?: destroy it first/,
    );
  });
});
