/**
 * Hostile filters and cursors of the management API reached Postgres unchecked and came back as
 * 500s with the database's error logged: a NUL in a text filter, a workflow UUID or a cursor
 * ("invalid byte sequence for encoding UTF8: 0x00"), and a time past bigint's range
 * (`createdAfter=99999999999999999999`, "invalid input syntax for type bigint"), in the list and
 * in bulk cancel alike. Each is now a 400 naming the parameter, before any query.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workflow, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

type HttpServer = Awaited<ReturnType<typeof createHttpServer>>;
const TOKEN = 'a-token-for-the-hostile-filter-test';

class Done {
  @Workflow()
  static async done(_ctx: WorkflowContext): Promise<number> {
    return 1;
  }
}

let runtime: OperonRuntime;
let app: HttpServer;

beforeAll(async () => {
  runtime = await startRuntime([Done], testConfig('reg_hostile_filter', { management: { token: TOKEN } }));
  app = await createHttpServer(runtime);
});

afterAll(async () => {
  await app?.close();
  await runtime?.destroy({ timeoutMs: 100 });
});

const authorization = `Bearer ${TOKEN}`;
const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('hostile management filters', () => {
  it.each([
    ['/operon/workflows?name=%00', 'name'],
    ['/operon/workflows?user=a%00b', 'user'],
    ['/operon/workflows?createdAfter=99999999999999999999', 'createdAfter'],
    ['/operon/workflows?createdBefore=-1e300', 'createdBefore'],
    [`/operon/workflows?cursor=${cursorOf([1, 'a\u0000b'])}`, 'cursor'],
    ['/operon/workflows/a%00b', 'workflow UUID'],
    ['/operon/workflows/a%00b/steps', 'workflow UUID'],
  ])('GET %s is a 400 naming %s', async (url, named) => {
    const answer = await app.inject({ method: 'GET', url, headers: { authorization } });
    expect(answer.statusCode, answer.body).toBe(400);
    expect(answer.body).toContain(named);
  });

  it.each([
    [{ name: 'x\u0000' }, 'name'],
    [{ createdAfter: 1e300 }, 'createdAfter'],
  ])('bulk cancel with %j is a 400 naming %s', async (filter, named) => {
    const answer = await app.inject({ method: 'POST', url: '/operon/workflows/cancel', headers: { authorization, 'content-type': 'application/json' }, payload: filter });
    expect(answer.statusCode, answer.body).toBe(400);
    expect(answer.body).toContain(named);
  });

  it.each(['cancel', 'resume', 'restart'])('POST /operon/workflows/a%%00b/%s is a 400 naming the workflow UUID', async (change) => {
    const answer = await app.inject({ method: 'POST', url: `/operon/workflows/a%00b/${change}`, headers: { authorization } });
    expect(answer.statusCode, answer.body).toBe(400);
    expect(answer.body).toContain('workflow UUID');
  });
});
