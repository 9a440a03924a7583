/**
 * Regression: "the same fork again" was recognised from the audit log alone: a fork whose UUID was
 * taken counted as made by the newest fork or restart the log named for that UUID. Once retention
 * deleted that fork and a client started a workflow of its own under the same UUID, the same fork
 * request was answered 200 with the client's workflow, as if the fork had made it.
 *
 * Expected: the request is recognised on the workflow's own row (what made it, written by the
 * fork's statement, found by its key): the client's workflow is a 409, and a fork retried while
 * its own workflow is still there is answered with it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { authorizedPost, type HttpServer } from '../helpers/management-requests.js';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';

const TOKEN = 'a-token-for-the-fork-again-test';

class Echo {
  @Communicator()
  static async say(_ctx: CommunicatorContext, word: string): Promise<string> {
    return word;
  }

  @Workflow()
  static async run(ctx: WorkflowContext, word: string): Promise<string> {
    return ctx.invoke(Echo).say(word);
  }
}

let runtime: OperonRuntime;
let app: HttpServer;
let sysDb: string;

beforeAll(async () => {
  const config = testConfig('fork_again_retention', { management: { token: TOKEN }, telemetry: { logs: { logLevel: 'silent' } } });
  sysDb = config.database.system_database;
  runtime = await startRuntime([Echo], config);
  app = await createHttpServer(runtime);
  await expect((await runtime.client.invoke(Echo, { workflowUUID: 'original' }).run('fork me')).getResult()).resolves.toBe('fork me');
});

afterAll(async () => {
  await app?.close();
  await runtime?.destroy({ timeoutMs: 1000 });
});

const forkInto = (target: string) => authorizedPost(app, TOKEN)('/operon/workflows/original/fork', { fromStep: 1, workflowUUID: target });

it('answers a fork retried with the workflow it made, and never a workflow a client made later under its deleted UUID', async () => {
  const made = await forkInto('reused-uuid');
  expect(made.statusCode, made.body).toBe(200);
  await expect(runtime.client.retrieveWorkflow<string>('reused-uuid').getResult()).resolves.toBe('fork me');
  const again = await forkInto('reused-uuid');
  expect(again.statusCode, again.body).toBe(200);
  expect(again.json()).toEqual({ workflowUUID: 'reused-uuid' });

  // Retention deletes the ended fork (its rows in both databases), and a client takes its UUID.
  await query(sysDb, `DELETE FROM operon.operation_outputs WHERE workflow_uuid = 'reused-uuid'`);
  await query(sysDb, `DELETE FROM operon.workflow_status WHERE workflow_uuid = 'reused-uuid'`);
  await expect((await runtime.client.invoke(Echo, { workflowUUID: 'reused-uuid' }).run('mine')).getResult()).resolves.toBe('mine');

  const fooled = await forkInto('reused-uuid');
  expect(fooled.statusCode, fooled.body).toBe(409);
  expect(fooled.json().error).toBe(
    'workflow UUID reused-uuid is taken: a fork creates a new workflow, so give it a UUID no workflow has (the very same fork again is answered with the workflow it made)',
  );
  await expect(runtime.client.retrieveWorkflow<string>('reused-uuid').getResult()).resolves.toBe('mine');
});
