import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { Greetings } from './operations.js';

describe('Greetings', () => {
  let testRuntime: TestingRuntime;

  beforeAll(async () => {
    // The app's own config and migrations, on the embedded Postgres (or the server it names).
    testRuntime = await createTestingRuntime([Greetings], 'operon-config.yaml');
  });

  afterAll(async () => {
    await testRuntime?.destroy();
  });

  it('greets over HTTP and records each greeting', async () => {
    const name = `visitor-${randomUUID().slice(0, 8)}`;
    const first = await testRuntime.inject({ method: 'GET', url: `/greeting/${name}` });
    expect(first.statusCode).toBe(200);
    expect(first.body).toBe(`Hello, ${name}! You have been greeted 1 time.`);

    const second = await testRuntime.inject({ method: 'GET', url: `/greeting/${name}` });
    expect(second.body).toBe(`Hello, ${name}! You have been greeted 2 times.`);

    const rows = await testRuntime.queryUserDB<{ count: number }>(
      'SELECT count(*)::int AS count FROM greetings WHERE name = $1',
      name,
    );
    expect(rows[0].count).toBe(2);
  });

  it('runs a workflow once per workflow UUID', async () => {
    const name = `visitor-${randomUUID().slice(0, 8)}`;
    const workflowUUID = randomUUID();
    const first = await testRuntime.invoke(Greetings, workflowUUID).greet(name);
    const again = await testRuntime.invoke(Greetings, workflowUUID).greet(name);
    expect(await first.getResult()).toBe(`Hello, ${name}! You have been greeted 1 time.`);
    expect(await again.getResult()).toBe(await first.getResult());

    const rows = await testRuntime.queryUserDB<{ count: number }>(
      'SELECT count(*)::int AS count FROM greetings WHERE name = $1',
      name,
    );
    expect(rows[0].count).toBe(1);
  });
});
