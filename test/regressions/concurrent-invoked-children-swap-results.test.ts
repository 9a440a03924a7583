/**
 * Regression: `ctx.invokeChildWorkflow(Cls).fn()` takes the operation id of its `getResult` only
 * after awaiting the child's start (workflow-context.ts: `(await startChildStep(...)).getResult()`),
 * and a getResult record names no child (`operon.getResult`), so nothing notices when a re-run
 * hands a record to the wrong child. With two children invoked together, the first run gives the
 * getResult ids in the order the starts finished (here B's first: A's start waits on a row lock);
 * a re-run replays both starts at once and gives them in call order, so each child gets the
 * other's result: `Promise.all([a(), b()])` returns ['B', 'A'] after a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workflow, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { within, writeAppDir, type AppDir } from '../helpers/app-dir.js';

class Kids {
  @Workflow()
  static async a(_ctx: WorkflowContext): Promise<string> {
    return 'A';
  }

  @Workflow()
  static async b(_ctx: WorkflowContext): Promise<string> {
    return 'B';
  }

  @Workflow()
  static async pair(ctx: WorkflowContext): Promise<string[]> {
    const results = await Promise.all([ctx.invokeChildWorkflow(Kids).a(), ctx.invokeChildWorkflow(Kids).b()]);
    // Waits here, so the stop finds it PENDING and the restart re-runs it.
    await ctx.recv('go', 30);
    return results;
  }
}

let app: AppDir;
let first: TestingRuntime | undefined;
let second: TestingRuntime | undefined;

beforeAll(() => {
  app = writeAppDir('kidswap', { logLevel: 'fatal' });
});

afterAll(async () => {
  await first?.destroy().catch(() => undefined);
  await second?.destroy();
  app?.remove();
});

async function waitForRecord(rt: TestingRuntime, uuid: string, functionID: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { rowCount } = await rt.runtime.systemDb.systemPool.query(
      'SELECT 1 FROM operon.operation_outputs WHERE workflow_uuid = $1 AND function_id = $2',
      [uuid, functionID],
    );
    if (rowCount) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no record at ${uuid} #${functionID}`);
}

describe('two children invoked together', () => {
  it('each gets its own result on the first run and after a restart', async () => {
    first = await createTestingRuntime([Kids], app.configPath);
    // Holds the start of child A (operation 0): its INSERT waits for this transaction.
    const lock = await first.runtime.systemDb.systemPool.connect();
    try {
      await lock.query('BEGIN');
      await lock.query(
        `INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, executor_id, inputs, created_at, updated_at)
         VALUES ('pair-1~c0', 'PENDING', 'held', 'nobody', '[]', 0, 0)`,
      );
      await first.invoke(Kids, 'pair-1').pair();
      // B (operation 1) starts, ends, and its getResult takes id 2 while A's start waits.
      await waitForRecord(first, 'pair-1', 2);
      await lock.query('ROLLBACK');
    } finally {
      lock.release();
    }
    await waitForRecord(first, 'pair-1', 3);
    await first.runtime.destroy({ timeoutMs: 100 });
    await first.destroy();
    first = undefined;

    second = await createTestingRuntime([Kids], app.configPath, { dropSystemDB: false });
    await second.send('pair-1', 'now', 'go');
    const result = await within(second.retrieveWorkflow('pair-1').getResult(), 15_000, 'no result after 15 s');
    expect(result).toEqual(['A', 'B']);
  });
});
