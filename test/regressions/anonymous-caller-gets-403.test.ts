/**
 * An anonymous caller of a role-protected route got 403 ("you may not"), as if it had said who it
 * is; and an authenticator that returned nothing for an anonymous caller made the request a 500.
 * Anonymous callers of a function that requires a role now get 401 (with `WWW-Authenticate:
 * Bearer` from the JWT authenticator); 403 is for an identified caller without the role. The
 * handler's context names the role it assumed.
 */
type FastifyInstance = Awaited<ReturnType<typeof createHttpServer>>;
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Authentication,
  DefaultRequiredRole,
  GetApi,
  RequiredRole,
  Workflow,
  type AuthenticationRequest,
  type HandlerContext,
  type WorkflowContext,
} from '@operon/sdk';
import { createHttpServer, jwtAuthenticator, type OperonRuntime } from '@operon/runtime';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

/** An API-key authenticator: no key means an anonymous caller, not an error. */
function apiKeys({ request }: AuthenticationRequest) {
  const key = request.headers['x-api-key'];
  if (key === undefined) return undefined;
  if (key !== 'ada-key') throw new Error('unknown key');
  return { authenticatedUser: 'ada', authenticatedRoles: ['reader'] };
}

@Authentication(apiKeys as never)
class Shelf {
  @GetApi('/shelf/open')
  static async open(ctx: HandlerContext): Promise<object> {
    return { user: ctx.authenticatedUser, role: ctx.assumedRole };
  }

  @GetApi('/shelf/books')
  @RequiredRole(['reader'])
  static async books(ctx: HandlerContext): Promise<object> {
    return { user: ctx.authenticatedUser, role: ctx.assumedRole };
  }

  @GetApi('/shelf/admin')
  @RequiredRole(['admin'])
  static async admin(_ctx: HandlerContext): Promise<string> {
    return 'admin';
  }

  @GetApi('/shelf/guarded')
  static async guarded(ctx: HandlerContext): Promise<string> {
    return (await ctx.invoke(Shelf).guardedFlow()).getResult();
  }

  @Workflow()
  @RequiredRole(['reader'])
  static async guardedFlow(_ctx: WorkflowContext): Promise<string> {
    return 'guarded';
  }
}

/** No authenticator at all: every caller is anonymous. */
class Lobby {
  @GetApi('/lobby/staff')
  @RequiredRole(['staff'])
  static async staff(_ctx: HandlerContext): Promise<string> {
    return 'staff';
  }
}

@Authentication(jwtAuthenticator())
@DefaultRequiredRole(['user'])
class Tokens {
  @GetApi('/tokens/me')
  static async me(ctx: HandlerContext): Promise<string> {
    return ctx.authenticatedUser;
  }
}

let runtime: OperonRuntime;
let app: FastifyInstance;
beforeAll(async () => {
  runtime = await startRuntime(
    [Shelf, Lobby, Tokens],
    testConfig('anon', { authentication: { jwt: { secret: 'a-regression-secret-of-at-least-32-chars', issuer: 'i', audience: 'a' } } }),
  );
  app = await createHttpServer(runtime);
});
afterAll(async () => {
  await app?.close();
  await runtime?.destroy();
});

const get = (url: string, headers: Record<string, string> = {}) => app.inject({ method: 'GET', url, headers });

describe('anonymous callers', () => {
  it('may call what requires no role when the authenticator returns nothing', async () => {
    const res = await get('/shelf/open');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ user: '', role: '' });
  });

  it('get 401, not 403, where a role is required', async () => {
    const res = await get('/shelf/books');
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: 'Shelf.books requires one of the roles [reader]: the caller is not authenticated' });
    expect((await get('/lobby/staff')).statusCode).toBe(401);
    // Also when the role is required by a workflow the handler starts.
    const guarded = await get('/shelf/guarded');
    expect(guarded.statusCode).toBe(401);
    expect(guarded.json()).toEqual({ error: 'Shelf.guardedFlow requires one of the roles [reader]: the caller is not authenticated' });
  });

  it('get 401 with WWW-Authenticate: Bearer from the JWT authenticator', async () => {
    const res = await get('/tokens/me');
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });
});

describe('identified callers', () => {
  it('get 403 without the role, and see the role they assumed with it', async () => {
    const admin = await get('/shelf/admin', { 'x-api-key': 'ada-key' });
    expect(admin.statusCode).toBe(403);
    expect(admin.json()).toEqual({ error: 'Shelf.admin requires one of the roles [admin]; the caller holds none' });
    const books = await get('/shelf/books', { 'x-api-key': 'ada-key' });
    expect(books.statusCode).toBe(200);
    expect(books.json()).toEqual({ user: 'ada', role: 'reader' });
  });
});
