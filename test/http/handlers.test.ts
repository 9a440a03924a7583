import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DeleteApi,
  GetApi,
  OperonNotAuthenticatedError,
  OperonNotAuthorizedError,
  OperonResponseError,
  PatchApi,
  PostApi,
  PutApi,
  Workflow,
  type HandlerContext,
  type WorkflowContext,
} from '@operon/sdk';
import { createHttpServer, createLogger, type OperonRuntime } from '@operon/runtime';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

class Api {
  @GetApi('/hello/:name')
  static async hello(_ctx: HandlerContext, name: string, greeting = 'hello'): Promise<string> {
    return `${greeting} ${name}`;
  }

  @GetApi('/query')
  static async query(_ctx: HandlerContext, flag: unknown, count: unknown, text: unknown): Promise<object> {
    return { flag, count, text };
  }

  @PostApi('/body/:id')
  static async body(_ctx: HandlerContext, id: string, flag: unknown, count: unknown, text: unknown, nothing: unknown, fallback = 'default'): Promise<object> {
    return { id, flag, count, text, nothing, fallback };
  }

  @PutApi('/items/:id')
  static async put(_ctx: HandlerContext, id: string, value: unknown): Promise<object> {
    return { method: 'PUT', id, value };
  }

  @PatchApi('/items/:id')
  static async patch(_ctx: HandlerContext, id: string, value: unknown): Promise<object> {
    return { method: 'PATCH', id, value };
  }

  @DeleteApi('/items/:id')
  static async remove(_ctx: HandlerContext, id: string, soft = 'no'): Promise<object> {
    return { method: 'DELETE', id, soft };
  }

  @PostApi('/typed', {
    schema: {
      body: { type: 'object', required: ['n'], properties: { n: { type: 'integer', minimum: 1 } } },
    },
  })
  static async typed(_ctx: HandlerContext, n: number): Promise<object> {
    return { n };
  }

  @GetApi('/coerced/:id', {
    schema: {
      params: { type: 'object', properties: { id: { type: 'integer' } } },
      querystring: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] },
    },
  })
  static async coerced(_ctx: HandlerContext, id: number, n: number): Promise<object> {
    return { id, n, types: [typeof id, typeof n] };
  }

  @GetApi('/teapot')
  static async teapot(_ctx: HandlerContext): Promise<string> {
    throw new OperonResponseError('short and stout', 418);
  }

  @GetApi('/forbidden')
  static async forbidden(_ctx: HandlerContext): Promise<string> {
    throw new OperonNotAuthorizedError('Api.forbidden', ['admin']);
  }

  @GetApi('/unauthenticated')
  static async unauthenticated(_ctx: HandlerContext): Promise<string> {
    throw new OperonNotAuthenticatedError('no credentials were presented');
  }

  @GetApi('/workflows/:uuid')
  static async result(ctx: HandlerContext, uuid: string): Promise<unknown> {
    return ctx.retrieveWorkflow(uuid).getResult();
  }

  @GetApi('/crash')
  static async crash(_ctx: HandlerContext): Promise<string> {
    throw new Error('password=hunter2 in a message that must stay inside');
  }

  @PostApi('/conflict')
  static async conflict(ctx: HandlerContext): Promise<string> {
    const handle = await ctx.invoke(Api).failing();
    return handle.getResult();
  }

  @Workflow()
  static async failing(_ctx: WorkflowContext): Promise<string> {
    throw new OperonResponseError('already taken', 409);
  }

  @GetApi('/nothing')
  static async nothing(_ctx: HandlerContext): Promise<void> {}

  @GetApi('/null')
  static async nullish(_ctx: HandlerContext): Promise<null> {
    return null;
  }

  @GetApi('/context')
  static async context(ctx: HandlerContext): Promise<object> {
    ctx.logger.info({ seen: true }, 'handler log line');
    ctx.span.setAttribute('k', 'v');
    return {
      greeting: ctx.getConfig('greeting'),
      nested: ctx.getConfig('a.b', 'none'),
      absent: ctx.getConfig('nope', 'fallback'),
      requestID: ctx.request.requestID,
      method: ctx.request.method,
      query: ctx.request.query,
      user: ctx.authenticatedUser,
      roles: ctx.authenticatedRoles,
    };
  }
}

let runtime: OperonRuntime;
let app: Awaited<ReturnType<typeof createHttpServer>>;
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  runtime = await startRuntime([Api], testConfig('http', { application: { greeting: 'hi', a: { b: 2 } } }));
  const sink = { write: (line: string) => void logLines.push(JSON.parse(line)) };
  app = await createHttpServer(runtime, { logger: createLogger('info', sink) });
});

afterAll(async () => {
  await app?.close();
  await runtime?.destroy({ timeoutMs: 0 });
});

describe('argument binding', () => {
  it('binds path parameters, and leaves a parameter with a default optional', async () => {
    const res = await app.inject({ method: 'GET', url: '/hello/ada' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toBe('hello ada');
    expect((await app.inject({ method: 'GET', url: '/hello/ada?greeting=hey' })).body).toBe('hey ada');
  });

  it("takes false, 0 and '' as values from a JSON body, and null too", async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/body/7',
      payload: { flag: false, count: 0, text: '', nothing: null, id: 'ignored: path parameters come first' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id: '7', flag: false, count: 0, text: '', nothing: null, fallback: 'default' });
  });

  it("takes an empty query value as '' (query values are strings unless a schema coerces them)", async () => {
    const res = await app.inject({ method: 'GET', url: '/query?flag=false&count=0&text=' });
    expect(res.json()).toEqual({ flag: 'false', count: '0', text: '' });
  });

  it('answers a missing argument with 400 naming every one missing and where to send it', async () => {
    const get = await app.inject({ method: 'GET', url: '/query?flag=1' });
    expect(get.statusCode).toBe(400);
    expect(get.json()).toEqual({ error: 'missing arguments "count", "text" of Api.query: pass them in the query string' });
    const post = await app.inject({ method: 'POST', url: '/body/1', payload: { flag: 1, count: 1, nothing: 1 } });
    expect(post.statusCode).toBe(400);
    expect(post.json()).toEqual({ error: 'missing argument "text" of Api.body: pass it as a field of the JSON body' });
    // A POST binds from the body, never from the query string.
    const fromQuery = await app.inject({ method: 'POST', url: '/body/1?flag=1&count=1&text=1&nothing=1' });
    expect(fromQuery.statusCode).toBe(400);
  });

  it('binds PUT and PATCH from the body and DELETE from the query string', async () => {
    expect((await app.inject({ method: 'PUT', url: '/items/3', payload: { value: [1] } })).json()).toEqual({ method: 'PUT', id: '3', value: [1] });
    expect((await app.inject({ method: 'PATCH', url: '/items/3', payload: { value: 'x' } })).json()).toEqual({ method: 'PATCH', id: '3', value: 'x' });
    expect((await app.inject({ method: 'DELETE', url: '/items/3?soft=yes' })).json()).toEqual({ method: 'DELETE', id: '3', soft: 'yes' });
    expect((await app.inject({ method: 'DELETE', url: '/items/3' })).json()).toEqual({ method: 'DELETE', id: '3', soft: 'no' });
  });

  it('takes an empty JSON body as no body', async () => {
    const res = await app.inject({ method: 'DELETE', url: '/items/4', headers: { 'content-type': 'application/json' }, payload: '' });
    expect(res.statusCode).toBe(200);
    const post = await app.inject({ method: 'POST', url: '/body/1', headers: { 'content-type': 'application/json' }, payload: '' });
    expect(post.json().error).toMatch(/^missing arguments "flag", "count", "text", "nothing" of Api\.body/);
  });
});

describe('schemas', () => {
  it("validates the body before the handler runs, answering 400 with Fastify's message", async () => {
    const res = await app.inject({ method: 'POST', url: '/typed', payload: { n: 0 } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'body/n must be >= 1' });
    const missing = await app.inject({ method: 'POST', url: '/typed', payload: {} });
    expect(missing.json()).toEqual({ error: "body must have required property 'n'" });
    expect((await app.inject({ method: 'POST', url: '/typed', payload: { n: 5 } })).json()).toEqual({ n: 5 });
  });

  it('coerces path and query values to the schema types', async () => {
    expect((await app.inject({ method: 'GET', url: '/coerced/12?n=0' })).json()).toEqual({ id: 12, n: 0, types: ['number', 'number'] });
    const bad = await app.inject({ method: 'GET', url: '/coerced/12?n=abc' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ error: 'querystring/n must be integer' });
    expect((await app.inject({ method: 'GET', url: '/coerced/x?n=1' })).json()).toEqual({ error: 'params/id must be integer' });
  });
});

describe('responses and errors', () => {
  it('answers undefined with 204 and null as JSON null', async () => {
    const none = await app.inject({ method: 'GET', url: '/nothing' });
    expect(none.statusCode).toBe(204);
    expect(none.body).toBe('');
    const nullish = await app.inject({ method: 'GET', url: '/null' });
    expect(nullish.statusCode).toBe(200);
    expect(nullish.headers['content-type']).toMatch(/^application\/json/);
    expect(nullish.body).toBe('null');
  });

  it('answers OperonResponseError with its status and message', async () => {
    const res = await app.inject({ method: 'GET', url: '/teapot' });
    expect(res.statusCode).toBe(418);
    expect(res.json()).toEqual({ error: 'short and stout' });
  });

  it('keeps the status of an OperonResponseError thrown inside a workflow, live and from the record', async () => {
    const live = await app.inject({ method: 'POST', url: '/conflict', headers: { 'operon-workflowuuid': 'conflict-1' } });
    expect(live.statusCode).toBe(409);
    expect(live.json()).toEqual({ error: 'already taken' });
    // Read back from the system database: the error is rebuilt from its record.
    const recorded = await app.inject({ method: 'GET', url: '/workflows/conflict-1' });
    expect(recorded.statusCode).toBe(409);
    expect(recorded.json()).toEqual({ error: 'already taken' });
    const replayed = await runtime.client.retrieveWorkflow('conflict-1').getResult().catch((e: unknown) => e);
    expect(replayed).toBeInstanceOf(OperonResponseError);
    expect(replayed).toMatchObject({ status: 409, message: 'already taken' });
  });

  it('answers 401 and 404 for authentication and unknown workflows, and 401 (not 403) when an anonymous caller lacks a role', async () => {
    // 403 is for an identified caller without the role; this one never said who it is.
    const forbidden = await app.inject({ method: 'GET', url: '/forbidden' });
    expect(forbidden.statusCode).toBe(401);
    expect(forbidden.json()).toEqual({ error: 'Api.forbidden requires one of the roles [admin]: the caller is not authenticated' });
    const unauthenticated = await app.inject({ method: 'GET', url: '/unauthenticated' });
    expect(unauthenticated.statusCode).toBe(401);
    expect(unauthenticated.json()).toEqual({ error: 'no credentials were presented' });
    const notFound = await app.inject({ method: 'GET', url: '/workflows/no-such-workflow' });
    expect(notFound.statusCode).toBe(404);
    expect(notFound.json()).toEqual({ error: 'no workflow with UUID no-such-workflow exists' });
  });

  it('answers any other error with a 500 that leaks nothing, and logs it with the request id', async () => {
    const res = await app.inject({ method: 'GET', url: '/crash', headers: { 'x-request-id': 'req-crash-1' } });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'Internal Server Error', requestID: 'req-crash-1' });
    expect(res.body).not.toMatch(/hunter2|at |\.ts/);
    const line = logLines.find((l) => l['requestID'] === 'req-crash-1' && l['level'] === 50);
    expect(line).toBeDefined();
    expect(JSON.stringify(line)).toMatch(/hunter2/);
    expect((line!['err'] as { stack: string }).stack).toMatch(/handlers\.test\.ts/);
  });

  it('answers malformed JSON with 400 naming the problem', async () => {
    const res = await app.inject({ method: 'POST', url: '/typed', headers: { 'content-type': 'application/json' }, payload: '{"n": 1,' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatch(/^malformed JSON in the request body: .*JSON/);
    const poisoned = await app.inject({ method: 'POST', url: '/typed', headers: { 'content-type': 'application/json' }, payload: '{"n": 1, "__proto__": {"x": 1}}' });
    expect(poisoned.statusCode).toBe(400);
    expect(poisoned.json().error).toMatch(/__proto__/);
  });

  it('answers a body that is not JSON with 415', async () => {
    const res = await app.inject({ method: 'POST', url: '/typed', headers: { 'content-type': 'text/plain' }, payload: 'n=1' });
    expect(res.statusCode).toBe(415);
    expect(res.json()).toEqual({ error: 'unsupported content type: send the request body as application/json' });
  });

  it('answers an unknown route with a JSON 404', async () => {
    const res = await app.inject({ method: 'GET', url: '/no/such/route' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'no route for GET /no/such/route' });
    expect((await app.inject({ method: 'POST', url: '/hello/ada' })).statusCode).toBe(404);
  });

  it('answers a body over the limit with 413 naming the limit', async () => {
    const small = await createHttpServer(runtime, { bodyLimitBytes: 64 });
    try {
      const res = await small.inject({ method: 'POST', url: '/typed', payload: { n: 1, pad: 'x'.repeat(100) } });
      expect(res.statusCode).toBe(413);
      expect(res.json()).toEqual({ error: 'the request body is larger than the limit of 64 bytes (runtimeConfig.bodyLimitBytes)' });
      expect((await small.inject({ method: 'POST', url: '/typed', payload: { n: 1 } })).statusCode).toBe(200);
    } finally {
      await small.close();
    }
  });
});

describe('the handler context, request ids and health', () => {
  it('gives the handler its request, config, logger and an anonymous identity', async () => {
    const res = await app.inject({ method: 'GET', url: '/context?x=1', headers: { 'x-request-id': 'req-ctx-1' } });
    expect(res.json()).toEqual({
      greeting: 'hi',
      nested: 2,
      absent: 'fallback',
      requestID: 'req-ctx-1',
      method: 'GET',
      query: { x: '1' },
      user: '',
      roles: [],
    });
    const line = logLines.find((l) => l['msg'] === 'handler log line');
    expect(line).toMatchObject({ requestID: 'req-ctx-1', operationName: 'Api.context', operationType: 'handler', seen: true });
  });

  it('echoes a sane x-request-id and replaces one that is not', async () => {
    const kept = await app.inject({ method: 'GET', url: '/nothing', headers: { 'x-request-id': 'abc-123' } });
    expect(kept.headers['x-request-id']).toBe('abc-123');
    const replaced = await app.inject({ method: 'GET', url: '/nothing', headers: { 'x-request-id': 'has spaces\tand tabs' } });
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const generated = await app.inject({ method: 'GET', url: '/no/such/route' });
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reports health with the runtime state', async () => {
    const res = await app.inject({ method: 'GET', url: '/operon/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', state: 'running' });
  });
});
