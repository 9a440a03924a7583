/**
 * Explicit argument binding (names and sources in the route option `args`, or `@ArgName`/
 * `@ArgSource`/`@ArgDate` under experimentalDecorators), `Date` arguments, and `ctx.reply`, all
 * on a real Fastify server with a runtime on the embedded Postgres.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetApi, OperonDecoratorError, PostApi, type HandlerContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

// Computed path: `tsc -p test` (TC39 mode) must not read its parameter decorators.
const legacyModule = '../fixtures/legacy/args.legacy-decorators.ts';
const { LegacyArgs } = (await import(/* @vite-ignore */ legacyModule)) as { LegacyArgs: object };

class Users {
  @PostApi('/users/:id', {
    args: [{ name: 'id', source: 'path' }, { name: 'x-tenant', source: 'header' }, { name: 'user', source: 'body' }, { name: 'dryRun', source: 'query' }],
  })
  static async create(_ctx: HandlerContext, a: string, b: string, c: string, d = 'no'): Promise<object> {
    return { id: a, tenant: b, user: c, dryRun: d };
  }

  // Only the second argument is renamed; the first keeps its parameter name and default source.
  @GetApi('/search', { args: [{}, { name: 'q' }] })
  static async search(_ctx: HandlerContext, limit: string, text: string): Promise<object> {
    return { limit, text };
  }

  @GetApi('/since', {
    schema: { querystring: { type: 'object', properties: { from: { type: 'string', format: 'date' } } } },
  })
  static async since(_ctx: HandlerContext, from: Date, until: Date | null = null): Promise<object> {
    return { from: from.toISOString(), isDate: from instanceof Date, until: until ?? null };
  }

  @PostApi('/declared-date', { args: [{ name: 'at', type: 'date' }] })
  static async declaredDate(_ctx: HandlerContext, at: Date): Promise<object> {
    return { at: at.toISOString(), year: at.getUTCFullYear() };
  }

  @PostApi('/things')
  static async created(ctx: HandlerContext, name: string): Promise<object> {
    ctx.reply.code(201).header('location', `/things/${name}`);
    return { name };
  }

  @PostApi('/accepted')
  static async accepted(ctx: HandlerContext): Promise<void> {
    ctx.reply.code(202);
  }

  @GetApi('/nothing')
  static async nothing(_ctx: HandlerContext): Promise<void> {}

  @GetApi('/old')
  static async old(ctx: HandlerContext): Promise<void> {
    ctx.reply.redirect('/new', 301);
  }

  @GetApi('/report.csv')
  static async csv(ctx: HandlerContext): Promise<string> {
    ctx.reply.type('text/csv; charset=utf-8');
    return 'a,b\n1,2\n';
  }
}

let runtime: OperonRuntime;
let app: Awaited<ReturnType<typeof createHttpServer>>;

beforeAll(async () => {
  runtime = await startRuntime([Users, LegacyArgs], testConfig('args'));
  app = await createHttpServer(runtime);
});

afterAll(async () => {
  await app?.close();
  await runtime?.destroy();
});

describe('explicit argument names and sources', () => {
  it('binds each argument from the source the route option args names, whatever the parameter is called', async () => {
    const res = await app.inject({ method: 'POST', url: '/users/7?dryRun=yes', headers: { 'x-tenant': 'acme' }, payload: { user: 'bob', dryRun: 'body-ignored' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id: '7', tenant: 'acme', user: 'bob', dryRun: 'yes' });
  });

  it('a source is the only place an argument is read from: a header argument sent in the body is missing', async () => {
    const res = await app.inject({ method: 'POST', url: '/users/7', payload: { user: 'bob', 'x-tenant': 'acme' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('missing argument "x-tenant" of Users.create: pass it as a request header');
  });

  it('names arguments missing from different sources each with its own', async () => {
    const res = await app.inject({ method: 'POST', url: '/users/7', payload: {} });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('missing arguments "x-tenant" (as a request header), "user" (as a field of the JSON body) of Users.create');
  });

  it('a parameter with a default keeps it when its declared source lacks it', async () => {
    const res = await app.inject({ method: 'POST', url: '/users/7', headers: { 'x-tenant': 'acme' }, payload: { user: 'bob' } });
    expect(res.json()).toEqual({ id: '7', tenant: 'acme', user: 'bob', dryRun: 'no' });
  });

  it('an empty entry keeps the parameter name and the default source', async () => {
    const res = await app.inject({ method: 'GET', url: '/search?limit=5&q=cats' });
    expect(res.json()).toEqual({ limit: '5', text: 'cats' });
  });

  it('binds the same under experimentalDecorators with @ArgName, @ArgSource and @ArgDate', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/legacy/users/9?dryRun=1',
      headers: { 'x-tenant': 'initech' },
      payload: { user: 'ann', since: '2026-03-01T10:00:00Z' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id: '9', user: 'ann', tenant: 'initech', dryRun: '1', since: '2026-03-01T10:00:00.000Z', isDate: true });
  });

  it('refuses a bad declaration when the class is decorated, naming it', () => {
    expect(() => PostApi('/x', { args: [{ source: 'cookie' as never }] })).toThrow(OperonDecoratorError);
    expect(() => PostApi('/x', { args: [{ source: 'cookie' as never }] })).toThrow(/args\[0\] source must be one of path, query, body, header, got "cookie"/);
    expect(() => PostApi('/x', { args: [{ name: '' }] })).toThrow(/args\[0\]\.name must be a non-empty string/);
    expect(() => PostApi('/x', { args: [{ type: 'number' as never }] })).toThrow(/args\[0\]\.type must be 'date'/);
  });
});

describe('Date arguments', () => {
  it("a schema property of format 'date' arrives as a Date", async () => {
    const res = await app.inject({ method: 'GET', url: '/since?from=2026-02-28' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ from: '2026-02-28T00:00:00.000Z', isDate: true, until: null });
  });

  it('an invalid date is a 400 before the handler runs (schema format)', async () => {
    const res = await app.inject({ method: 'GET', url: '/since?from=yesterday' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('querystring/from must match format "date"');
  });

  it("an argument declared type 'date' arrives as a Date; a malformed or impossible one is a 400 naming it", async () => {
    const ok = await app.inject({ method: 'POST', url: '/declared-date', payload: { at: '2026-03-01T12:30:00+02:00' } });
    expect(ok.json()).toEqual({ at: '2026-03-01T10:30:00.000Z', year: 2026 });
    for (const at of ['soon', '2026-13-45', 12345]) {
      const bad = await app.inject({ method: 'POST', url: '/declared-date', payload: { at } });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error).toMatch(/^argument "at" of Users\.declaredDate must be an ISO 8601 date or date-time/);
    }
  });
});

describe('ctx.reply', () => {
  it('sets the status code and headers of a response whose body is the return value', async () => {
    const res = await app.inject({ method: 'POST', url: '/things', payload: { name: 'lamp' } });
    expect(res.statusCode).toBe(201);
    expect(res.headers.location).toBe('/things/lamp');
    expect(res.json()).toEqual({ name: 'lamp' });
  });

  it('a chosen status with no return value answers it with an empty body; without one it is 204', async () => {
    const accepted = await app.inject({ method: 'POST', url: '/accepted', payload: {} });
    expect(accepted.statusCode).toBe(202);
    expect(accepted.body).toBe('');
    expect((await app.inject({ method: 'GET', url: '/nothing' })).statusCode).toBe(204);
  });

  it('redirects', async () => {
    const res = await app.inject({ method: 'GET', url: '/old' });
    expect(res.statusCode).toBe(301);
    expect(res.headers.location).toBe('/new');
  });

  it('sets the content type of a string body', async () => {
    const res = await app.inject({ method: 'GET', url: '/report.csv' });
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.body).toBe('a,b\n1,2\n');
  });
});
