/**
 * Regression: `operon debug` (replayWorkflow) describes the replay's error in its own way
 * (`error.name ?? 'Error'`, `error.message ?? String(error)`) instead of as the record stores it
 * (serializeError), so a deterministic workflow that threw a non-Error is misreported:
 *  - a thrown null-prototype object makes the replay itself crash (String() of it throws a
 *    TypeError) instead of giving a report;
 *  - a thrown `{ message: 42 }` is recorded with message "[object Object]" but replayed with
 *    message 42: a 'different-result' divergence on a workflow that did exactly the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workflow, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, replayWorkflow, type TestingRuntime } from '@operon/runtime';
import { rejectionOf, writeAppDir, type AppDir } from '../helpers/app-dir.js';

class Throwers {
  @Workflow()
  static async nullPrototype(_ctx: WorkflowContext): Promise<void> {
    const thrown = Object.create(null) as Record<string, unknown>;
    thrown.reason = 'no prototype';
    throw thrown;
  }

  @Workflow()
  static async numericMessage(_ctx: WorkflowContext): Promise<void> {
    throw { message: 42 };
  }
}

let app: AppDir;
let testRuntime: TestingRuntime | undefined;

beforeAll(async () => {
  app = writeAppDir('replaythrown', { logLevel: 'fatal' });
  testRuntime = await createTestingRuntime([Throwers], app.configPath);
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

describe('replaying a workflow that threw a non-Error', () => {
  it('a null-prototype object: the replay reports a match instead of crashing', async () => {
    await rejectionOf((await testRuntime!.invoke(Throwers, 'np-1').nullPrototype()).getResult());
    expect((await testRuntime!.retrieveWorkflow('np-1').getStatus())?.status).toBe('ERROR');
    const report = await replayWorkflow(testRuntime!.runtime, 'np-1').catch((error: Error) => `replay threw ${error.name}: ${error.message}`);
    expect(typeof report === 'string' ? report : { matches: report.matches, divergence: report.divergence }).toEqual({ matches: true, divergence: undefined });
  });

  it('an object whose message is not a string: no divergence is reported', async () => {
    await rejectionOf((await testRuntime!.invoke(Throwers, 'nm-1').numericMessage()).getResult());
    const report = await replayWorkflow(testRuntime!.runtime, 'nm-1');
    expect({ matches: report.matches, divergence: report.divergence }).toEqual({ matches: true, divergence: undefined });
  });
});
