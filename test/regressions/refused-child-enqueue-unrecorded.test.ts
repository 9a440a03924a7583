/**
 * Regression: a child enqueue that the queue refused (its deduplicationID held by another
 * workflow of the queue) threw OPERON_ERR_QUEUE_DUPLICATED into the workflow without recording
 * it. The workflow's code caught it and went on; after a crash, the recovered run enqueued the
 * child again, and by then the id was free: the re-run took the other branch, a child the first
 * run never had was started, and the workflow ended on an outcome its recorded operations
 * contradict. A refused child start is the operation's outcome: recorded, and replayed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, OperonShutdownError, Workflow, WorkflowQueue, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { makeAppDir, type TestAppDir } from '../testing-runtime/app-dir.js';
import { query } from '../helpers/test-databases.js';

const mails = new WorkflowQueue('refused_child_mails');
const noted: string[] = [];

class Mailer {
  @Workflow()
  static async welcome(_ctx: WorkflowContext, user: string): Promise<string> {
    return `welcomed ${user}`;
  }

  @Communicator()
  static async note(_ctx: CommunicatorContext, outcome: string): Promise<void> {
    noted.push(outcome);
  }

  @Workflow()
  static async signUp(ctx: WorkflowContext, user: string): Promise<string> {
    let outcome: string;
    try {
      await ctx.startChildWorkflow(Mailer, { queue: mails, deduplicationID: `welcome-${user}` }).welcome(user);
      outcome = 'enqueued';
    } catch (error) {
      outcome = `refused: ${(error as { code?: string }).code}`;
    }
    await ctx.invoke(Mailer).note(outcome);
    return outcome;
  }
}

let app: TestAppDir;
let testRuntime: TestingRuntime;

beforeAll(async () => {
  app = makeAppDir('refusedchild', {});
  testRuntime = await createTestingRuntime([Mailer], app.configPath);
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

describe('a child enqueue refused for its deduplicationID', () => {
  it('is recorded: the recovered run sees the refusal again, and no child is started', async () => {
    // The holder of the id waits in the queue (delayed an hour) until the test ends it.
    await testRuntime.invoke(Mailer, { workflowUUID: 'holder', queue: mails, deduplicationID: 'welcome-ada', delaySeconds: 3600 }).welcome('ada');
    testRuntime.crashAfter('Mailer.note');
    const first = await testRuntime.invoke(Mailer, 'signup-ada').signUp('ada');
    await expect(first.getResult()).rejects.toBeInstanceOf(OperonShutdownError);
    expect(noted).toEqual(['refused: OPERON_ERR_QUEUE_DUPLICATED']);

    // The holder ends while the process is down: the id is free when the recovery runs.
    await query(testRuntime.runtime.config.database.system_database, "UPDATE operon.workflow_status SET status = 'CANCELLED' WHERE workflow_uuid = 'holder'");
    expect(await testRuntime.recover()).toBe(1);
    const result = await testRuntime.retrieveWorkflow<string>('signup-ada').getResult();
    const children = await query(testRuntime.runtime.config.database.system_database, "SELECT workflow_uuid FROM operon.workflow_status WHERE parent_uuid = 'signup-ada'");

    expect({ result, noted, children }).toEqual({ result: 'refused: OPERON_ERR_QUEUE_DUPLICATED', noted: ['refused: OPERON_ERR_QUEUE_DUPLICATED'], children: [] });
  });
});
