/**
 * Regression: a workflow's first run saw its arguments as the caller passed them, a recovered run
 * saw their stored form: a Date became a string, a Map `{}`, and an `undefined` argument `null`,
 * so a defaulted parameter lost its default. The same code took other branches after a crash. The
 * first run now sees its inputs in the stored form too: both runs see the same values.
 */
import { describe, expect, it } from 'vitest';
import { within } from '../helpers/app-dir.js';
import { useKilledChildApp } from '../helpers/killed-child-app.js';

const app = useKilledChildApp('storedform', 'stored-form-child.ts', 'STORED');

describe('a workflow’s arguments, on its first run and on a recovered run', () => {
  it('are the same values of the same types: a Date, a Map and a defaulted parameter', async () => {
    const first = app.start(1);
    expect(await within(first.exited, 20_000, 'still running after 20 s'), first.output()).toBe('SIGKILL');
    const second = app.start(2);
    await second.waitForLine(/^RESULT /, 20_000);
    expect(await within(second.exited, 20_000, 'still running after 20 s'), second.output()).toBe(0);

    const executions = app.sideLogLines().map((line) => JSON.parse(line) as { run: number; seen: unknown });
    expect(executions.map((e) => e.run)).toEqual([1, 2]);
    const [firstRun, recoveredRun] = executions.map((e) => e.seen);
    expect(firstRun).toEqual(recoveredRun);
  });
});
