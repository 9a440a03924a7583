import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OperonShutdownError } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { Greetings } from './operations.js';

describe('Greetings', () => {
  let testRuntime: TestingRuntime;

  beforeAll(async () => {
    // The app's config and migrations, on databases of the tests' own (the config's names with
    // `_test` added), so a running `npm start` keeps its data. The clock is virtual: time moves
    // only when a test advances it.
    testRuntime = await createTestingRuntime([Greetings], 'operon-config.yaml', { clock: 'virtual' });
  });

  afterAll(async () => {
    await testRuntime?.destroy();
  });

  // Each test starts from what the migrations left (no greetings, no workflows, the clock at its
  // start): a reset in place, a few ms, not a new copy of the databases.
  beforeEach(async () => {
    await testRuntime.reset();
  });

  const greetingsOf = async (name: string): Promise<number> =>
    (await testRuntime.queryUserDB<{ count: number }>('SELECT count(*)::int AS count FROM greetings WHERE name = $1', name))[0].count;

  it('greets over HTTP and records each greeting', async () => {
    const name = 'Ada';
    const first = await testRuntime.inject({ method: 'GET', url: `/greeting/${name}` });
    expect(first.statusCode).toBe(200);
    expect(first.body).toBe(`Hello, ${name}! You have been greeted 1 time.`);

    const second = await testRuntime.inject({ method: 'GET', url: `/greeting/${name}` });
    expect(second.body).toBe(`Hello, ${name}! You have been greeted 2 times.`);
    expect(await greetingsOf(name)).toBe(2);
  });

  it('runs a workflow once per workflow UUID', async () => {
    const name = 'Ada';
    const workflowUUID = 'greet-ada';
    const first = await testRuntime.invoke(Greetings, workflowUUID).greet(name);
    const again = await testRuntime.invoke(Greetings, workflowUUID).greet(name);
    expect(await first.getResult()).toBe(`Hello, ${name}! You have been greeted 1 time.`);
    expect(await again.getResult()).toBe(await first.getResult());
    expect(await greetingsOf(name)).toBe(1);
  });

  it('greets again a day later, not before (the virtual clock)', async () => {
    const name = 'Ada';
    await testRuntime.inject({ method: 'GET', url: `/greeting/${name}` });
    const handle = await testRuntime.invoke(Greetings).greetTomorrow(name);

    await testRuntime.advance('23h');
    expect(await greetingsOf(name)).toBe(1);

    await testRuntime.advance('1h');
    expect(await handle.getResult()).toBe(`Hello again, ${name}! You have been greeted 2 times.`);
  });

  it('records a greeting once, even if the process dies right after recording it', async () => {
    const name = 'Ada';
    const workflowUUID = 'greet-ada';
    testRuntime.crashAfter('Greetings.recordGreeting');
    const handle = await testRuntime.invoke(Greetings, workflowUUID).greet(name);
    await expect(handle.getResult()).rejects.toBeInstanceOf(OperonShutdownError);

    // A restarted process resumes the workflow after the recorded transaction.
    await testRuntime.recover();
    expect(await testRuntime.retrieveWorkflow(workflowUUID).getResult()).toBe(`Hello, ${name}! You have been greeted 1 time.`);
    expect(await greetingsOf(name)).toBe(1);
  });
});
