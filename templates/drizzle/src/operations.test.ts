import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperonShutdownError } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { Tasks } from './operations.js';

describe('Tasks (drizzle)', () => {
  let testRuntime: TestingRuntime;

  beforeAll(async () => {
    // The app's config and migrations, on databases of the tests' own (the config's names with
    // `_test` added), so a running `npm start` keeps its data.
    testRuntime = await createTestingRuntime([Tasks], 'operon-config.yaml');
  });

  afterAll(async () => {
    await testRuntime?.destroy();
  });

  const unique = (title: string) => `${title}-${randomUUID().slice(0, 8)}`;
  const titlesLike = async (title: string): Promise<string[]> =>
    (await testRuntime.queryUserDB<{ title: string }>('SELECT title FROM tasks WHERE starts_with(title, $1) ORDER BY id', title)).map((r) => r.title);

  it('adds tasks over HTTP and lists them', async () => {
    const title = unique('write');
    const created = await testRuntime.inject({ method: 'POST', url: '/tasks', payload: { titles: [title] } });
    expect(created.statusCode).toBe(200);
    expect(created.json()).toEqual([{ id: expect.any(Number), title }]);

    const listed = await testRuntime.inject({ method: 'GET', url: '/tasks' });
    expect(listed.json()).toContainEqual(created.json()[0]);
  });

  it('runs a workflow once per workflow UUID', async () => {
    const title = unique('once');
    const workflowUUID = randomUUID();
    const first = await testRuntime.invoke(Tasks, workflowUUID).planTasks([title]);
    const again = await testRuntime.invoke(Tasks, workflowUUID).planTasks([title]);
    expect(await again.getResult()).toEqual(await first.getResult());
    expect(await titlesLike(title)).toEqual([title]);
  });

  it('rolls back every row of a transaction that fails', async () => {
    const title = unique('dup');
    // The third insert breaks the UNIQUE constraint: the first two are rolled back with it.
    // Drizzle wraps the database's error: Postgres's own is its cause (23505, a unique violation).
    await expect(testRuntime.invoke(Tasks).addTasks([`${title}-a`, `${title}-b`, `${title}-a`])).rejects.toMatchObject({ cause: { code: '23505' } });
    expect(await titlesLike(title)).toEqual([]);
  });

  it('adds the tasks once, even if the process dies right after the transaction commits', async () => {
    const title = unique('crash');
    const workflowUUID = randomUUID();
    testRuntime.crashAfter('Tasks.addTasks');
    const handle = await testRuntime.invoke(Tasks, workflowUUID).planTasks([title]);
    await expect(handle.getResult()).rejects.toBeInstanceOf(OperonShutdownError);

    // A restarted process resumes the workflow after the recorded transaction.
    await testRuntime.recover();
    expect(await testRuntime.retrieveWorkflow<{ title: string }[]>(workflowUUID).getResult()).toMatchObject([{ title }]);
    expect(await titlesLike(title)).toEqual([title]);
  });
});
