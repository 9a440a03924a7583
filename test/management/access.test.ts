/**
 * Access to every `/operon/*` management route: reads need operon-viewer or operon-admin, changes
 * operon-admin. A caller is identified by the management token (bearer, cookie, or once in the
 * dashboard link, which sets the cookie) or by a JWT verified with the app's settings. No
 * identity: 401 with a Bearer challenge; an identity without the role: 403. With neither a token
 * nor JWT configured, each runtime makes its own random token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workflow, type WorkflowContext } from '@operon/sdk';
import { OperonConfigError, createHttpServer, managementAccess, resolveConfig, type OperonRuntime } from '@operon/runtime';
import { jose } from '../helpers/jose.js';
import { startRuntime, testConfig } from '../helpers/test-databases.js';
import { MANAGEMENT_ROUTES, type RouteCase } from './management-routes.js';

type HttpServer = Awaited<ReturnType<typeof createHttpServer>>;

const SECRET = 'a-test-secret-of-at-least-32-characters!';
const ADMIN_TOKEN = 'an-admin-token-for-the-management-tests';

class Done {
  @Workflow()
  static async done(_ctx: WorkflowContext, n: number): Promise<number> {
    return n;
  }
}

async function jwtFor(roles: string[] | undefined): Promise<string> {
  const claims = roles === undefined ? {} : { roles };
  return new jose.SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('grace').setIssuer('https://issuer.test').setAudience('operon-tests').setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(SECRET));
}

let runtime: OperonRuntime;
let app: HttpServer;

beforeAll(async () => {
  runtime = await startRuntime(
    [Done],
    testConfig('mgmt_access', { management: { token: ADMIN_TOKEN, jwt: true }, authentication: { jwt: { secret: SECRET, issuer: 'https://issuer.test', audience: 'operon-tests' } } }),
  );
  await (await runtime.client.invoke(Done, { workflowUUID: 'access-done' }).done(1)).getResult();
  app = await createHttpServer(runtime);
});

afterAll(async () => {
  await app?.close();
  await runtime?.destroy({ timeoutMs: 100 });
});

function send(route: RouteCase, headers: Record<string, string> = {}) {
  return app.inject({ method: route.method, url: route.url, headers, ...(route.body === undefined ? {} : { payload: route.body }) });
}

describe('management access', () => {
  it.each(MANAGEMENT_ROUTES)('$method $url: 401 with no identity or a wrong one', async (route) => {
    const none = await send(route);
    expect(none.statusCode, none.body).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    const wrong = await send(route, { authorization: 'Bearer not-the-token-and-not-a-jwt' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    const badCookie = await send(route, { cookie: 'operon_token=stale' });
    expect(badCookie.statusCode).toBe(401);
  });

  it.each(MANAGEMENT_ROUTES)('$method $url: 403 for a JWT without a management role', async (route) => {
    for (const roles of [undefined, ['user']]) {
      const response = await send(route, { authorization: `Bearer ${await jwtFor(roles)}` });
      expect(response.statusCode, response.body).toBe(403);
      expect(response.json().error).toMatch(/requires one of the roles \[operon-/);
    }
  });

  it.each(MANAGEMENT_ROUTES)('$method $url: operon-viewer may read, not change', async (route) => {
    const response = await send(route, { authorization: `Bearer ${await jwtFor(['operon-viewer'])}` });
    if (route.access === 'read') expect(response.statusCode, response.body).toBe(200);
    else {
      expect(response.statusCode, response.body).toBe(403);
      expect(response.json().error).toMatch(/requires one of the roles \[operon-admin\]/);
    }
  });

  it.each(MANAGEMENT_ROUTES)('$method $url: operon-admin (JWT) and the token may do both', async (route) => {
    const viaJwt = await send(route, { authorization: `Bearer ${await jwtFor(['operon-admin'])}` });
    expect(viaJwt.statusCode, viaJwt.body).toBe(route.okStatus ?? 200);
    const viaToken = await send(route, { authorization: `Bearer ${ADMIN_TOKEN}` });
    expect(viaToken.statusCode, viaToken.body).toBe(route.okStatus ?? 200);
  });

  it('accepts the token once in the link, answering with a cookie that identifies later requests', async () => {
    const first = await app.inject({ method: 'GET', url: `/operon/workflows?token=${ADMIN_TOKEN}` });
    expect(first.statusCode, first.body).toBe(200);
    const cookie = String(first.headers['set-cookie']);
    expect(cookie).toMatch(/^operon_token=[^;]+; Path=\/operon; HttpOnly; SameSite=Strict$/);
    const later = await app.inject({ method: 'GET', url: '/operon/executors', headers: { cookie: cookie.split(';')[0]! } });
    expect(later.statusCode).toBe(200);
    // Behind a TLS proxy the cookie is Secure: the browser never sends it over plain HTTP.
    const proxied = await app.inject({ method: 'GET', url: `/operon/workflows?token=${ADMIN_TOKEN}`, headers: { 'x-forwarded-proto': 'https' } });
    expect(String(proxied.headers['set-cookie'])).toMatch(/^operon_token=[^;]+; Path=\/operon; HttpOnly; SameSite=Strict; Secure$/);
    const wrongLink = await app.inject({ method: 'GET', url: '/operon/workflows?token=guess' });
    expect(wrongLink.statusCode).toBe(401);
  });

  it('leaves the health check open', async () => {
    expect((await app.inject({ method: 'GET', url: '/operon/health' })).statusCode).toBe(200);
  });
});

describe('management access with nothing configured', () => {
  it('makes a random token per runtime, and the dashboard link carries it', async () => {
    const config = testConfig('mgmt_gen');
    const first = await startRuntime([Done], config);
    let second: OperonRuntime | undefined;
    let server: HttpServer | undefined;
    try {
      const access = managementAccess(first);
      expect(access.generated).toBe(true);
      expect(access.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(access.dashboardUrl('http://127.0.0.1:3000')).toBe(`http://127.0.0.1:3000/operon/dashboard?token=${access.token}`);
      server = await createHttpServer(first);
      expect((await server.inject({ method: 'GET', url: '/operon/workflows', headers: { authorization: `Bearer ${access.token}` } })).statusCode).toBe(200);
      // A JWT is no identity here: nothing verifies it.
      const jwt = await server.inject({ method: 'GET', url: '/operon/workflows', headers: { authorization: `Bearer ${await jwtFor(['operon-admin'])}` } });
      expect(jwt.statusCode).toBe(401);
      await first.destroy({ timeoutMs: 100 });
      second = await startRuntime([Done], config);
      expect(managementAccess(second).token).not.toBe(access.token);
    } finally {
      await server?.close();
      await first.destroy({ timeoutMs: 100 });
      await second?.destroy({ timeoutMs: 100 });
    }
  });
});

describe('management settings', () => {
  const resolve = (input: object) => resolveConfig(input, { file: '', appDir: process.cwd(), env: {} });

  it('refuses management.jwt without authentication.jwt, and a short token, naming the key', () => {
    expect(() => resolve({ management: { jwt: true } })).toThrow(OperonConfigError);
    expect(() => resolve({ management: { jwt: true } })).toThrow(/management\.jwt is true but authentication\.jwt is not set/);
    expect(() => resolve({ management: { token: 'short' } })).toThrow(/management\.token must be a string of at least 16 characters/);
    expect(() => resolve({ management: { stuckAfterSeconds: 0 } })).toThrow(/management\.stuckAfterSeconds/);
  });

  it('never shows the token in a dump of the config', () => {
    const config = resolve({ management: { token: ADMIN_TOKEN } });
    expect(config.management.token).toBe(ADMIN_TOKEN);
    expect(JSON.stringify(config)).not.toContain(ADMIN_TOKEN);
  });
});
