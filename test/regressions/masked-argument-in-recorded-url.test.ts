/**
 * Regression: `@LogMask`/`@SkipLogging` kept a handler's path and query arguments out of every log
 * line (its requests are logged by route pattern), but the request recorded with the workflows it
 * starts kept the URL as sent: the reset token of `/reset/:token` and the `?ticket=` of an invite
 * stayed in the system database for the workflow's lifetime, shown by `getStatus().request`, the
 * management API and `ctx.request`. The recorded URL of such a handler is now its route pattern.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { GetApi, LogMask, PostApi, SkipLogging, Workflow, type HandlerContext, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';

class Accounts {
  @Workflow()
  static async audit(ctx: WorkflowContext): Promise<string | undefined> {
    return ctx.request?.url;
  }

  @PostApi('/reset/:token')
  @LogMask('token')
  static async reset(ctx: HandlerContext, token: string): Promise<string> {
    return (await ctx.invoke(Accounts).audit()).getWorkflowUUID();
  }

  @GetApi('/invite')
  @SkipLogging('ticket')
  static async invite(ctx: HandlerContext, ticket: string): Promise<string> {
    return (await ctx.invoke(Accounts).audit()).getWorkflowUUID();
  }

  @GetApi('/plain/:name')
  static async plain(ctx: HandlerContext, name: string): Promise<string> {
    return (await ctx.invoke(Accounts).audit()).getWorkflowUUID();
  }
}

let runtime: OperonRuntime;
let app: Awaited<ReturnType<typeof createHttpServer>>;

beforeAll(async () => {
  runtime = await startRuntime([Accounts], testConfig('maskurl'));
  app = await createHttpServer(runtime);
});

afterAll(async () => {
  await app?.close();
  await runtime?.destroy();
});

async function recorded(method: 'GET' | 'POST', url: string): Promise<{ seen: unknown; status: unknown; row: string }> {
  const res = await app.inject({ method, url });
  expect(res.statusCode).toBe(200);
  const handle = runtime.client.retrieveWorkflow(res.body);
  const seen = await handle.getResult();
  const status = (await handle.getStatus())?.request;
  const [row] = await query<{ request: string }>(runtime.config.database.system_database, 'SELECT request FROM operon.workflow_status WHERE workflow_uuid = $1', [res.body]);
  return { seen, status, row: row!.request };
}

it('records the route pattern, not the masked values, for a handler that masks arguments', async () => {
  const reset = await recorded('POST', '/reset/RESET-TOKEN-1?lang=en');
  expect(reset.row).not.toContain('RESET-TOKEN-1');
  expect(reset.seen).toBe('/reset/:token');
  expect(reset.status).toMatchObject({ method: 'POST', url: '/reset/:token' });

  const invite = await recorded('GET', '/invite?ticket=INVITE-TICKET-2');
  expect(invite.row).not.toContain('INVITE-TICKET-2');
  expect(invite.seen).toBe('/invite');
});

it('keeps the URL of a handler that masks nothing', async () => {
  expect((await recorded('GET', '/plain/ann?x=1')).seen).toBe('/plain/ann?x=1');
});
