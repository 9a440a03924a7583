/**
 * `@Authentication`, `@DefaultRequiredRole` and `@RequiredRole` over HTTP (docs/security.md): 401 before
 * 403 before anything runs, and the identity (with its assumed role) carried into the workflows,
 * transactions and communicators a handler starts, which check their own roles against it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Authentication,
  Communicator,
  DefaultRequiredRole,
  GetApi,
  OperonNotAuthenticatedError,
  OperonResponseError,
  PostApi,
  RequiredRole,
  Transaction,
  Workflow,
  type AuthenticationRequest,
  type AuthenticationResult,
  type CommunicatorContext,
  type HandlerContext,
  type TransactionContext,
  type WorkflowContext,
} from '@operon/sdk';
import { OperonRuntime, createHttpServer } from '@operon/runtime';
import { captureLogs } from '../helpers/log-capture.js';
import { testConfig } from '../helpers/test-databases.js';

type HttpServer = Awaited<ReturnType<typeof createHttpServer>>;

/** Names of the handlers and operations that ran, so a test can tell that a refused one did not. */
const ran: string[] = [];

/** Trusts `x-user` and `x-roles` headers: enough to drive every role combination. */
async function headerAuthenticator({ request, logger, getConfig }: AuthenticationRequest): Promise<AuthenticationResult> {
  const user = request.headers['x-user'];
  if (user === 'broken') throw new Error('the user directory at 10.1.2.3 is down');
  if (user === 'teapot') throw new OperonResponseError('the authenticator is brewing', 418);
  if (user === 'odd') return { authenticatedUser: 42 } as unknown as AuthenticationResult;
  if (typeof user !== 'string') throw new OperonNotAuthenticatedError('send x-user');
  logger.info({ user }, 'authenticating');
  const roles = request.headers['x-roles'];
  return {
    authenticatedUser: user,
    authenticatedRoles: typeof roles === 'string' ? roles.split(',').filter((r) => r !== '') : getConfig<string[]>('defaultRoles', [])!,
  };
}

@Authentication(headerAuthenticator)
@DefaultRequiredRole(['user'])
class Bank {
  @GetApi('/whoami')
  static async whoami(ctx: HandlerContext): Promise<object> {
    ran.push('whoami');
    return { user: ctx.authenticatedUser, roles: ctx.authenticatedRoles };
  }

  @GetApi('/vault')
  @RequiredRole(['admin'])
  static async vault(_ctx: HandlerContext): Promise<string> {
    ran.push('vault');
    return 'vault open';
  }

  @GetApi('/lobby')
  @RequiredRole([])
  static async lobby(ctx: HandlerContext): Promise<string> {
    return `lobby for ${ctx.authenticatedUser}`;
  }

  @PostApi('/transfer/:amount')
  @RequiredRole(['user', 'teller'])
  static async transfer(ctx: HandlerContext, amount: string): Promise<object> {
    const handle = await ctx.invoke(Bank).transferFlow(Number(amount));
    const result = await handle.getResult();
    const status = await handle.getStatus();
    return { result, recorded: { user: status?.authenticatedUser, roles: status?.authenticatedRoles, assumedRole: status?.assumedRole } };
  }

  @PostApi('/debit/:amount')
  @RequiredRole(['user', 'teller'])
  static async debitDirectly(ctx: HandlerContext, amount: string): Promise<number> {
    return ctx.invoke(Bank).debit(Number(amount));
  }

  @Workflow()
  @RequiredRole(['teller', 'user'])
  static async transferFlow(ctx: WorkflowContext, amount: number): Promise<object> {
    const debited = await ctx.invoke(Bank).debit(amount);
    const audit = amount > 100 ? await ctx.invoke(Bank).audit(amount) : 'no audit';
    return { user: ctx.authenticatedUser, roles: ctx.authenticatedRoles, assumedRole: ctx.assumedRole, debited, audit };
  }

  @Transaction()
  static async debit(ctx: TransactionContext, amount: number): Promise<number> {
    ran.push('debit');
    return (await ctx.client.query<{ n: number }>('SELECT $1::int AS n', [amount])).rows[0]!.n;
  }

  @Communicator()
  @RequiredRole(['auditor'])
  static async audit(_ctx: CommunicatorContext, amount: number): Promise<string> {
    ran.push('audit');
    return `audited ${amount}`;
  }
}

/** No `@Authentication`: every caller is anonymous. */
class Lobby {
  @GetApi('/public')
  static async open(ctx: HandlerContext): Promise<object> {
    const handle = await ctx.invoke(Lobby).openFlow();
    return { handler: { user: ctx.authenticatedUser, roles: ctx.authenticatedRoles }, workflow: await handle.getResult() };
  }

  @GetApi('/public/staff')
  @RequiredRole(['staff'])
  static async staffOnly(_ctx: HandlerContext): Promise<string> {
    ran.push('staffOnly');
    return 'staff';
  }

  @GetApi('/public/guarded')
  static async guarded(ctx: HandlerContext): Promise<string> {
    return (await ctx.invoke(Lobby).guardedFlow()).getResult();
  }

  @Workflow()
  static async openFlow(ctx: WorkflowContext): Promise<object> {
    return { user: ctx.authenticatedUser, roles: ctx.authenticatedRoles, assumedRole: ctx.assumedRole };
  }

  @Workflow()
  @RequiredRole(['staff'])
  static async guardedFlow(_ctx: WorkflowContext): Promise<string> {
    ran.push('guardedFlow');
    return 'guarded';
  }
}

const logs = captureLogs('info');
let runtime: OperonRuntime;
let app: HttpServer;

beforeAll(async () => {
  runtime = await OperonRuntime.create({
    config: testConfig('authn', { application: { defaultRoles: ['user'] } }),
    classes: [Bank, Lobby],
    logger: logs.logger,
  });
  await runtime.recover();
  app = await createHttpServer(runtime);
});
afterAll(async () => {
  await app.close();
  await runtime.destroy();
});

function call(method: 'GET' | 'POST', url: string, user?: string, roles?: string) {
  const headers: Record<string, string> = {};
  if (user !== undefined) headers['x-user'] = user;
  if (roles !== undefined) headers['x-roles'] = roles;
  return app.inject({ method, url, headers });
}

describe('@Authentication', () => {
  it('answers 401 with the authenticator\'s message and does not run the handler', async () => {
    ran.length = 0;
    const res = await call('GET', '/whoami');
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: 'send x-user' });
    expect(ran).toEqual([]);
  });

  it('gives the handler the identity it returns', async () => {
    const res = await call('GET', '/whoami', 'ada', 'user,clerk');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ user: 'ada', roles: ['user', 'clerk'] });
  });

  it('passes the request, a logger carrying the request id, and the application config', async () => {
    const res = await app.inject({ method: 'GET', url: '/whoami', headers: { 'x-user': 'cy', 'x-request-id': 'req-auth-1' } });
    expect(res.json()).toEqual({ user: 'cy', roles: ['user'] });
    const line = logs.records().find((r) => r['msg'] === 'authenticating' && r['user'] === 'cy');
    expect(line).toMatchObject({ requestID: 'req-auth-1', operationName: 'Bank.whoami', operationType: 'handler' });
  });

  it('turns any other error into a bare 401 and logs the reason, never sending it', async () => {
    ran.length = 0;
    const res = await call('GET', '/whoami', 'broken');
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: 'authentication failed' });
    expect(res.body).not.toContain('10.1.2.3');
    expect(ran).toEqual([]);
    expect(logs.lines.some((line) => line.includes('10.1.2.3') && line.includes('the @Authentication function of Bank threw'))).toBe(true);
  });

  it('lets an authenticator answer with a status of its choosing', async () => {
    const res = await call('GET', '/whoami', 'teapot');
    expect(res.statusCode).toBe(418);
    expect(res.json()).toEqual({ error: 'the authenticator is brewing' });
  });

  it('answers 500, and names the class in the log, when the authenticator returns no identity', async () => {
    const res = await call('GET', '/whoami', 'odd');
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'Internal Server Error', requestID: expect.any(String) });
    expect(logs.lines.some((line) => line.includes('OPERON_ERR_AUTH_BAD_IDENTITY') && line.includes('Bank'))).toBe(true);
  });
});

describe('handler roles', () => {
  it.each([
    // [url, user, roles, status]
    ['/whoami', 'ada', 'user', 200],
    ['/whoami', 'ada', '', 403],
    ['/whoami', 'ada', 'admin', 403],
    ['/whoami', undefined, undefined, 401],
    ['/vault', 'ada', 'user,admin', 200],
    ['/vault', 'ada', 'admin', 200],
    ['/vault', 'ada', 'user', 403],
    ['/vault', undefined, undefined, 401],
    ['/lobby', 'ada', '', 200],
    ['/lobby', undefined, undefined, 401],
  ] as const)('GET %s as %s with roles [%s] answers %i', async (url, user, roles, status) => {
    const res = await call('GET', url, user, roles);
    expect(res.statusCode).toBe(status);
  });

  it('refuses with 403 naming the roles, before the handler runs', async () => {
    ran.length = 0;
    const res = await call('GET', '/vault', 'ada', 'user');
    expect(res.json()).toEqual({ error: 'Bank.vault requires one of the roles [admin]; the caller holds none' });
    expect(ran).toEqual([]);
  });

  it('leaves a class without @Authentication open to anonymous callers, except where a role is required (401)', async () => {
    ran.length = 0;
    const open = await call('GET', '/public', 'ada', 'staff');
    expect(open.statusCode).toBe(200);
    expect(open.json()).toEqual({
      handler: { user: '', roles: [] },
      workflow: { user: '', roles: [], assumedRole: '' },
    });
    expect((await call('GET', '/public/staff', 'ada', 'staff')).statusCode).toBe(401);
    const guarded = await call('GET', '/public/guarded');
    expect(guarded.statusCode).toBe(401);
    expect(guarded.json()).toEqual({ error: 'Lobby.guardedFlow requires one of the roles [staff]: the caller is not authenticated' });
    expect(ran).toEqual([]);
  });
});

describe('roles inside the workflows a handler starts', () => {
  it('carries the identity into the workflow, which assumes its own first matching role, and records it', async () => {
    const res = await call('POST', '/transfer/50', 'ada', 'user,teller');
    expect(res.statusCode).toBe(200);
    const identity = { user: 'ada', roles: ['user', 'teller'], assumedRole: 'teller' };
    expect(res.json()).toEqual({ result: { ...identity, debited: 50, audit: 'no audit' }, recorded: identity });
  });

  it('keeps the assumed role of the handler when the workflow requires none of its own', async () => {
    const res = await call('POST', '/transfer/50', 'bo', 'user');
    expect(res.json().result).toMatchObject({ user: 'bo', assumedRole: 'user' });
  });

  it('refuses, with 403, a transaction the caller lacks the role for, and runs nothing of it', async () => {
    ran.length = 0;
    // A teller may call the handler and start the workflow, but its transaction requires `user`.
    const res = await call('POST', '/transfer/50', 'cy', 'teller');
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({ error: 'Bank.debit requires one of the roles [user]; the caller holds none' });
    expect(ran).toEqual([]);
    const uuid = res.headers['operon-workflowuuid'] as string;
    expect(await runtime.client.retrieveWorkflow(uuid).getStatus()).toMatchObject({ status: 'ERROR', authenticatedUser: 'cy', assumedRole: 'teller' });
  });

  it('refuses a communicator the caller lacks the role for, after the operations before it ran', async () => {
    ran.length = 0;
    const refused = await call('POST', '/transfer/500', 'ada', 'user');
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toEqual({ error: 'Bank.audit requires one of the roles [auditor]; the caller holds none' });
    expect(ran).toEqual(['debit']);
    const allowed = await call('POST', '/transfer/500', 'ada', 'user,auditor');
    expect(allowed.statusCode).toBe(200);
    expect(allowed.json().result).toMatchObject({ audit: 'audited 500', assumedRole: 'user' });
  });

  it('checks a transaction a handler invokes directly, as a one-operation workflow', async () => {
    expect((await call('POST', '/debit/7', 'ada', 'user')).body).toBe('7');
    const refused = await call('POST', '/debit/7', 'ada', 'teller');
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toEqual({ error: 'Bank.debit requires one of the roles [user]; the caller holds none' });
  });
});
