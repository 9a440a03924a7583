/**
 * Regression: the management API ignored what a route does not read instead of refusing it. A
 * resume whose `version` was misspelt (`{ "verison": … }`) resumed the workflow on the current
 * code; a restart sent `{ "fromStep": 3 }` restarted from step 0; a cancel took any body; a
 * repeated `cursor` (an array) was dropped, so a client paging with it got the first page again,
 * for ever; and every read but the list took unknown query keys (`/operon/audit?limt=5`) as if
 * they were not there. Each is a 400 naming what was wrong, and nothing is changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workflow, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

const TOKEN = 'a-token-for-the-parameter-regression';

class Waits {
  @Workflow()
  static async wait(ctx: WorkflowContext): Promise<string | null> {
    return ctx.recv<string>('never', 600);
  }
}

let runtime: OperonRuntime;
let app: Awaited<ReturnType<typeof createHttpServer>>;

beforeAll(async () => {
  runtime = await startRuntime([Waits], testConfig('mgmtparams', { management: { token: TOKEN } }));
  app = await createHttpServer(runtime);
});

afterAll(async () => {
  await app?.close();
  await runtime?.destroy({ timeoutMs: 100 });
});

function send(method: 'GET' | 'POST', url: string, body?: unknown) {
  const payload = body === undefined ? {} : { payload: JSON.stringify(body), headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } };
  return app.inject({ method, url, headers: { authorization: `Bearer ${TOKEN}` }, ...payload });
}

/** The status and the error message of an answer. */
const failure = (answer: { statusCode: number; body: string }) => [answer.statusCode, (JSON.parse(answer.body) as { error?: string }).error];

const statusOf = async (uuid: string) => (await runtime.systemDb.getWorkflow(uuid))?.status;

describe('management parameters a route does not read', () => {
  it('a change with a field it does not take is a 400 naming it, and changes nothing', async () => {
    await runtime.client.invoke(Waits, { workflowUUID: 'params-1' }).wait();
    const cancelBadBody = await send('POST', '/operon/workflows/params-1/cancel', [1]);
    expect(failure(cancelBadBody)).toEqual([400, expect.stringContaining('JSON object')]);
    expect(await statusOf('params-1')).toBe('PENDING');
    const cancelled = await send('POST', '/operon/workflows/params-1/cancel', {});
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    expect(await statusOf('params-1')).toBe('CANCELLED');

    const misspelt = await send('POST', '/operon/workflows/params-1/resume', { verison: 'latest' });
    expect(failure(misspelt)).toEqual([400, expect.stringContaining('"verison"')]);
    expect(await statusOf('params-1')).toBe('CANCELLED');

    const before = (await runtime.systemDb.systemPool.query('SELECT count(*)::int AS n FROM operon.workflow_status')).rows[0].n;
    const restart = await send('POST', '/operon/workflows/params-1/restart', { fromStep: 3 });
    expect(failure(restart)).toEqual([400, expect.stringContaining('"fromStep"')]);
    expect((await runtime.systemDb.systemPool.query('SELECT count(*)::int AS n FROM operon.workflow_status')).rows[0].n).toBe(before);
    // What the dashboard sends is still taken.
    expect((await send('POST', '/operon/workflows/params-1/resume', {})).statusCode).toBe(200);
  });

  it('a read with a query key it does not read, or a repeated cursor, is a 400 naming it', async () => {
    for (const url of ['/operon/audit?limt=5', '/operon/executors?bogus=1', '/operon/workflows/params-1?bogus=1', '/operon/workflows/params-1/steps?bogus=1', '/operon/queues?bogus=1']) {
      const answer = await send('GET', url);
      expect([url, ...failure(answer)]).toEqual([url, 400, expect.stringMatching(/"(limt|bogus)"/)]);
    }
    for (const url of ['/operon/workflows?cursor=a&cursor=b', '/operon/audit?cursor=a&cursor=b']) {
      const answer = await send('GET', url);
      expect([url, ...failure(answer)]).toEqual([url, 400, expect.stringContaining('cursor')]);
    }
    // The dashboard link's token is taken on every route.
    const linked = await app.inject({ method: 'GET', url: `/operon/executors?token=${TOKEN}` });
    expect(linked.statusCode, linked.body).toBe(200);
  });
});
