/**
 * A JWT without `exp` was accepted for ever, and nothing bounded a token's age. `exp` is now
 * required by default, `maxTokenAgeSeconds` refuses tokens issued too long ago, a clock
 * tolerance is configurable, and a server that checks neither issuer nor audience says so at startup.
 */
type FastifyInstance = Awaited<ReturnType<typeof createHttpServer>>;
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authentication, GetApi, type HandlerContext } from '@operon/sdk';
import { createHttpServer, jwtAuthenticator, OperonRuntime } from '@operon/runtime';
import { jose } from '../helpers/jose.js';
import { captureLogs } from '../helpers/log-capture.js';
import { testConfig } from '../helpers/test-databases.js';

const SECRET = 'a-regression-secret-of-at-least-32-chars';
const key = new TextEncoder().encode(SECRET);

@Authentication(jwtAuthenticator({ issuer: 'https://issuer.test', audience: 'api' }))
class Strict {
  @GetApi('/strict')
  static async me(ctx: HandlerContext): Promise<string> {
    return ctx.authenticatedUser;
  }
}

@Authentication(jwtAuthenticator({ maxTokenAgeSeconds: 3600, clockToleranceSeconds: 30 }))
class Aged {
  @GetApi('/aged')
  static async me(ctx: HandlerContext): Promise<string> {
    return ctx.authenticatedUser;
  }
}

const now = () => Math.floor(Date.now() / 1000);
function token(claims: { exp?: number; iat?: number; iss?: string; aud?: string }): Promise<string> {
  return new jose.SignJWT({ sub: 'ada', ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(key);
}

const logs = captureLogs('warn');
let runtime: OperonRuntime;
let app: FastifyInstance;
beforeAll(async () => {
  runtime = await OperonRuntime.create({
    config: testConfig('jwt_exp', { authentication: { jwt: { secret: SECRET } } }),
    classes: [Strict, Aged],
    logger: logs.logger,
  });
  await runtime.recover();
  app = await createHttpServer(runtime);
});
afterAll(async () => {
  await app?.close();
  await runtime?.destroy();
});

const get = (url: string, jwt: string) => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${jwt}` } });

describe('bearer JWT lifetimes', () => {
  it('refuses a token without exp', async () => {
    const res = await get('/strict', await token({ iss: 'https://issuer.test', aud: 'api' }));
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: 'the bearer token has no "exp" claim: tokens must expire' });
    expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    expect((await get('/strict', await token({ iss: 'https://issuer.test', aud: 'api', exp: now() + 60 }))).statusCode).toBe(200);
  });

  it('refuses a token older than maxTokenAgeSeconds, whatever its exp', async () => {
    const old = await get('/aged', await token({ iat: now() - 7200, exp: now() + 86_400 }));
    expect(old.statusCode).toBe(401);
    expect(old.json()).toEqual({ error: 'the bearer token has expired' });
    const noIat = await get('/aged', await token({ exp: now() + 60 }));
    expect(noIat.json()).toEqual({ error: 'the bearer token has no "iat" claim, so its age cannot be checked' });
    expect((await get('/aged', await token({ iat: now() - 60, exp: now() + 60 }))).statusCode).toBe(200);
  });

  it('allows the configured clock tolerance, and no more', async () => {
    expect((await get('/aged', await token({ iat: now() - 60, exp: now() - 10 }))).statusCode).toBe(200);
    expect((await get('/aged', await token({ iat: now() - 60, exp: now() - 120 }))).statusCode).toBe(401);
  });

  it('warns at startup when a JWT class checks neither issuer nor audience', () => {
    const warning = logs.lines.find((line) => line.includes('jwtAuthenticator() of Aged does not check'));
    expect(warning).toMatch(/issuer or audience/);
    expect(logs.lines.some((line) => line.includes('jwtAuthenticator() of Strict does not check'))).toBe(false);
  });
});
