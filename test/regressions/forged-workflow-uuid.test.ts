/**
 * Regression (found by the chaos harness's fuzzer): a request carrying the `operon-workflowuuid`
 * of another function's workflow, or of a workflow another user started, was answered with that
 * workflow's result, because a taken UUID always meant "attach to the existing workflow". A UUID
 * now names one workflow of one function and one caller; anything else is a 409 that shows
 * nothing of the other workflow, in the database path and in the in-process (running) path alike.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Authentication,
  GetApi,
  OperonWorkflowConflictError,
  PostApi,
  Transaction,
  Workflow,
  type AuthenticationRequest,
  type HandlerContext,
  type TransactionContext,
  type WorkflowContext,
} from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { startRuntime } from '../helpers/test-databases.js';

let releaseGate: () => void = () => undefined;
let gate = Promise.resolve();

async function userFromHeader({ request }: AuthenticationRequest) {
  const user = request.headers['x-user'];
  return { authenticatedUser: typeof user === 'string' ? user : '', authenticatedRoles: [] };
}

@Authentication(userFromHeader)
class Vault {
  @Workflow()
  static async keepSecret(ctx: WorkflowContext, secret: string): Promise<string> {
    return `${ctx.authenticatedUser} keeps ${secret}`;
  }

  @Workflow()
  static async waitAtGate(_ctx: WorkflowContext, label: string): Promise<string> {
    await gate;
    return `passed ${label}`;
  }

  @Workflow()
  static async echo(_ctx: WorkflowContext, text: string): Promise<string> {
    return `echo ${text}`;
  }

  @Transaction({ readOnly: true })
  static async now(ctx: TransactionContext): Promise<string> {
    const { rows } = await ctx.client.query<{ one: number }>('SELECT 1 AS one');
    return `one is ${rows[0]!.one}`;
  }

  @PostApi('/secrets')
  static async postSecret(ctx: HandlerContext, secret: string): Promise<string> {
    return (await ctx.invoke(Vault).keepSecret(secret)).getResult();
  }

  @PostApi('/echo')
  static async postEcho(ctx: HandlerContext, text: string): Promise<string> {
    return (await ctx.invoke(Vault).echo(text)).getResult();
  }

  @GetApi('/now')
  static async getNow(ctx: HandlerContext): Promise<string> {
    return ctx.invoke(Vault).now();
  }
}

let runtime: OperonRuntime;
let app: Awaited<ReturnType<typeof createHttpServer>>;

beforeAll(async () => {
  runtime = await startRuntime([Vault]);
  app = await createHttpServer(runtime);
});

afterAll(async () => {
  releaseGate();
  await app?.close();
  await runtime?.destroy({ timeoutMs: 1_000 });
});

const post = (url: string, uuid: string, user: string, payload: object) =>
  app.inject({ method: 'POST', url, headers: { 'operon-workflowuuid': uuid, 'x-user': user }, payload });

describe('a workflow UUID reused by another function or another caller', () => {
  it('is refused with 409 and never shows the other workflow’s result', async () => {
    const first = await post('/secrets', 'vault-1', 'alice', { secret: 'the-code-is-42' });
    expect(first.statusCode).toBe(200);
    expect(first.body).toBe('alice keeps the-code-is-42');

    const forgedFunction = await post('/echo', 'vault-1', 'alice', { text: 'x' });
    const forgedTransaction = await app.inject({ method: 'GET', url: '/now', headers: { 'operon-workflowuuid': 'vault-1', 'x-user': 'alice' } });
    const forgedUser = await post('/secrets', 'vault-1', 'mallory', { secret: 'x' });
    for (const forged of [forgedFunction, forgedTransaction, forgedUser]) {
      expect(forged.statusCode).toBe(409);
      expect(forged.json().error).toMatch(/^workflow UUID vault-1 already names a workflow of another function or another caller/);
      expect(forged.body).not.toContain('the-code-is-42');
    }

    // The same function, caller and inputs is a retry: the existing result. Other inputs are another call.
    expect((await post('/secrets', 'vault-1', 'alice', { secret: 'the-code-is-42' })).body).toBe('alice keeps the-code-is-42');
    const otherInputs = await post('/secrets', 'vault-1', 'alice', { secret: 'other' });
    expect(otherInputs.statusCode).toBe(409);
    expect(otherInputs.body).not.toContain('the-code-is-42');
  });

  it('is refused while the workflow still runs in this process', async () => {
    gate = new Promise((resolve) => (releaseGate = resolve));
    const wait = runtime.registry.lookup(Vault, 'waitAtGate');
    const echo = runtime.registry.lookup(Vault, 'echo');
    const alice = { authenticatedUser: 'alice', authenticatedRoles: [], assumedRole: '' };
    const bob = { ...alice, authenticatedUser: 'bob' };
    const running = await runtime.executor.startWorkflow(wait, ['a'], { workflowUUID: 'gate-1', identity: alice });

    await expect(runtime.executor.startWorkflow(echo, ['x'], { workflowUUID: 'gate-1', identity: alice })).rejects.toBeInstanceOf(OperonWorkflowConflictError);
    await expect(runtime.executor.startWorkflow(wait, ['b'], { workflowUUID: 'gate-1', identity: bob })).rejects.toBeInstanceOf(OperonWorkflowConflictError);
    await expect(runtime.executor.startWorkflow(wait, ['c'], { workflowUUID: 'gate-1', identity: alice })).rejects.toBeInstanceOf(OperonWorkflowConflictError);
    const joined = await runtime.executor.startWorkflow(wait, ['a'], { workflowUUID: 'gate-1', identity: alice });
    releaseGate();
    expect(await joined.getResult()).toBe('passed a');
    expect(await running.getResult()).toBe('passed a');
  });

  it('lets exactly one of two functions racing for a fresh UUID win', async () => {
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? post('/secrets', 'race-1', 'carol', { secret: 's' }) : post('/echo', 'race-1', 'carol', { text: 't' }))),
    );
    const secrets = responses.filter((_, i) => i % 2 === 0).map((r) => r.statusCode);
    const echoes = responses.filter((_, i) => i % 2 === 1).map((r) => r.statusCode);
    const secretsWon = secrets.every((s) => s === 200) && echoes.every((s) => s === 409);
    const echoesWon = echoes.every((s) => s === 200) && secrets.every((s) => s === 409);
    expect({ secrets, echoes, oneWinner: secretsWon || echoesWon }).toMatchObject({ oneWinner: true });
  });
});
