/**
 * The OpenAPI document: made from the registered routes (paths, each argument's source, schemas,
 * dates, security of authenticated classes), checked by a real OpenAPI 3.1 validator, and served
 * publicly at GET /operon/openapi.json by a real Fastify server on the embedded Postgres.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Validator } from '@seriousme/openapi-schema-validator';
import {
  Authentication,
  DefaultRequiredRole,
  DeleteApi,
  GetApi,
  PostApi,
  RequiredRole,
  type HandlerContext,
} from '@operon/sdk';
import { createHttpServer, jwtAuthenticator, openApiDocument, type OperonRuntime } from '@operon/runtime';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

class Catalog {
  @GetApi('/items/:id', { schema: { params: { type: 'object', properties: { id: { type: 'integer' } } } } })
  static async item(_ctx: HandlerContext, id: number, expand = false): Promise<object> {
    return { id, expand };
  }

  @PostApi('/items/:id/notes', { args: [{ name: 'id', source: 'path' }, { name: 'x-tenant', source: 'header' }, { name: 'text', source: 'body' }, { name: 'dryRun', source: 'query' }, { name: 'at', type: 'date' }] })
  static async note(_ctx: HandlerContext, id: string, tenant: string, text: string, dryRun = 'no', at: Date | null = null): Promise<object> {
    return { id, tenant, text, dryRun, at };
  }

  @GetApi('/since', { schema: { querystring: { type: 'object', required: ['from'], properties: { from: { type: 'string', format: 'date' }, limit: { type: 'integer' } } } } })
  static async since(_ctx: HandlerContext, from: Date): Promise<string> {
    return from.toISOString();
  }

  @PostApi('/orders', {
    schema: { body: { type: 'object', required: ['sku'], properties: { sku: { type: 'string' }, quantity: { type: 'integer', minimum: 1 } } } },
  })
  static async order(_ctx: HandlerContext, sku: string, quantity = 1): Promise<object> {
    return { sku, quantity };
  }
}

@Authentication(jwtAuthenticator())
@DefaultRequiredRole(['user'])
class Account {
  @GetApi('/me')
  static async me(ctx: HandlerContext): Promise<string> {
    return ctx.authenticatedUser;
  }

  @DeleteApi('/me/sessions/:session')
  @RequiredRole(['admin'])
  static async endSession(_ctx: HandlerContext, session: string): Promise<void> {
    void session;
  }
}

@Authentication(({ request }) => ({ authenticatedUser: String(request.headers['x-api-key']), authenticatedRoles: [] }))
class Public {
  @GetApi('/status')
  static async status(_ctx: HandlerContext): Promise<string> {
    return 'ok';
  }
}

const CLASSES = [Catalog, Account, Public];

async function expectValid(document: unknown): Promise<void> {
  const validator = new Validator();
  const result = await validator.validate(document as Parameters<Validator["validate"]>[0]);
  expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
  expect(result.valid).toBe(true);
  expect(validator.version).toBe('3.1');
}

type Doc = { paths: Record<string, Record<string, any>>; components: Record<string, any>; info: Record<string, string> };
const document = openApiDocument(CLASSES, { title: 'shop', version: '1.2.3' }) as Doc;

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document of every route', async () => {
    await expectValid(document);
    // The validator can fail: a path parameter without its required flag is refused.
    const broken = structuredClone(document);
    delete broken.paths['/items/{id}']!['get'].parameters[0].required;
    expect((await new Validator().validate(broken as never)).valid).toBe(false);
    expect(document.info).toEqual({ title: 'shop', version: '1.2.3' });
    expect(Object.keys(document.paths).sort()).toEqual(['/items/{id}', '/items/{id}/notes', '/me', '/me/sessions/{session}', '/orders', '/since', '/status']);
    expect(document.paths['/items/{id}']!['get'].operationId).toBe('Catalog.item');
    expect(Object.keys(document.paths).some((path) => path.startsWith('/operon'))).toBe(false);
  });

  it('gives each argument its source, schema and whether it is required', () => {
    expect(document.paths['/items/{id}']!['get'].parameters).toEqual([
      { name: 'id', in: 'path', required: true, schema: { type: 'integer' } },
      { name: 'expand', in: 'query', required: false, schema: {} },
    ]);
    const note = document.paths['/items/{id}/notes']!['post'];
    expect(note.parameters).toEqual([
      { name: 'id', in: 'path', required: true, schema: {} },
      { name: 'x-tenant', in: 'header', required: true, schema: {} },
      { name: 'dryRun', in: 'query', required: false, schema: {} },
    ]);
    // A POST reads the rest from the body; a declared date is an ISO 8601 date-time.
    expect(note.requestBody).toEqual({
      required: true,
      content: { 'application/json': { schema: { type: 'object', properties: { text: {}, at: { type: 'string', format: 'date-time' } }, required: ['text'] } } },
    });
  });

  it("keeps the route schemas: a schema's date format, query fields only the schema names, the body schema", () => {
    expect(document.paths['/since']!['get'].parameters).toEqual([
      { name: 'from', in: 'query', required: true, schema: { type: 'string', format: 'date' } },
      { name: 'limit', in: 'query', required: false, schema: { type: 'integer' } },
    ]);
    expect(document.paths['/orders']!['post'].requestBody.content['application/json'].schema).toEqual({
      type: 'object',
      required: ['sku'],
      properties: { sku: { type: 'string' }, quantity: { type: 'integer', minimum: 1 } },
    });
  });

  it('names the security of authenticated classes, and their roles', () => {
    expect(document.components['securitySchemes']).toEqual({
      bearerJwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      PublicAuthentication: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    });
    const me = document.paths['/me']!['get'];
    expect(me.security).toEqual([{ bearerJwt: [] }]);
    expect(me.description).toBe('Requires one of the roles: user.');
    expect(Object.keys(me.responses)).toEqual(expect.arrayContaining(['401', '403']));
    expect(document.paths['/me/sessions/{session}']!['delete'].description).toBe('Requires one of the roles: admin.');
    // No role required: an anonymous caller is served too.
    expect(document.paths['/status']!['get'].security).toEqual([{ PublicAuthentication: [] }, {}]);
    expect(document.paths['/items/{id}']!['get'].security).toBeUndefined();
  });
});

describe('GET /operon/openapi.json', () => {
  let runtime: OperonRuntime;
  let app: Awaited<ReturnType<typeof createHttpServer>>;
  beforeAll(async () => {
    // The JWT class needs a key to serve; the document of the other two is enough here.
    runtime = await startRuntime([Catalog, Public], testConfig('openapi', { management: { token: 'only-for-management' } }));
    app = await createHttpServer(runtime);
  });
  afterAll(async () => {
    await app?.close();
    await runtime?.destroy();
  });

  it('serves the same document without credentials, while other /operon routes stay guarded', async () => {
    const res = await app.inject({ method: 'GET', url: '/operon/openapi.json' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const served = res.json() as Doc;
    expect(served).toEqual(openApiDocument([Catalog, Public], { title: served.info['title']!, version: served.info['version']! }));
    expect(Object.keys(served.paths)).toContain('/items/{id}/notes');
    await expectValid(served);
    expect((await app.inject({ method: 'GET', url: '/operon/workflows' })).statusCode).toBe(401);
  });
});
