/**
 * Regression: `ctx.retrieveWorkflow(id).getStatus()` inside a workflow read the database each
 * time and recorded nothing, so a recovered run saw another status than the first run had (the
 * other workflow had ended in between) and could take another branch. The read is now an
 * operation: a re-run sees what the first run saw.
 */
import { describe, expect, it } from 'vitest';
import { within } from '../helpers/app-dir.js';
import { useKilledChildApp } from '../helpers/killed-child-app.js';

const app = useKilledChildApp('statusread', 'status-read-child.ts', 'STATUS');

describe('a workflow reading another workflow’s status', () => {
  it('sees, when recovered, the status its first run saw, though that status changed since', async () => {
    const first = app.start(1);
    expect(await within(first.exited, 20_000, 'still running after 20 s'), first.output()).toBe('SIGKILL');
    // The other workflow ended between the first run's read and the recovery.
    expect(first.output()).toMatch(/^TARGET SUCCESS$/m);

    const second = app.start(2);
    const line = await second.waitForLine(/^RESULT /, 20_000);
    expect(await within(second.exited, 20_000, 'still running after 20 s'), second.output()).toBe(0);

    const executions = app.sideLogLines().map((l) => JSON.parse(l) as { run: number; saw: unknown });
    expect(executions).toEqual([
      { run: 1, saw: null },
      { run: 2, saw: null },
    ]);
    expect(JSON.parse(line.slice('RESULT '.length))).toBeNull();
  });
});
