/**
 * The ready-made bearer JWT authenticator: tokens signed with jose, verified with an HS256 secret
 * from operon-config.yaml or with the keys of a JWKS served by a real HTTP server on 127.0.0.1.
 * Every way a token or header can be wrong is a 401 with its own message.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Authentication,
  DefaultRequiredRole,
  GetApi,
  Workflow,
  type HandlerContext,
  type WorkflowContext,
} from '@operon/sdk';
import {
  OperonConfigError,
  OperonJwtNotConfiguredError,
  createHttpServer,
  jwtAuthenticator,
  resolveConfig,
  type OperonRuntime,
} from '@operon/runtime';
import { freePort } from '../helpers/global-setup.js';
import { jose } from '../helpers/jose.js';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

type HttpServer = Awaited<ReturnType<typeof createHttpServer>>;
type SigningKey = Awaited<ReturnType<typeof jose.generateKeyPair>>['privateKey'];

const SECRET = 'a-test-secret-of-at-least-32-characters!';
const secretKey = new TextEncoder().encode(SECRET);

async function hs256(claims: Record<string, unknown>, options: { key?: Uint8Array; expiresIn?: string | number; issuer?: string; audience?: string } = {}) {
  const jwt = new jose.SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setSubject(String(claims['sub'] ?? 'ada'));
  jwt.setIssuer(options.issuer ?? 'https://issuer.test').setAudience(options.audience ?? 'operon-tests');
  jwt.setExpirationTime(options.expiresIn ?? '5m');
  return jwt.sign(options.key ?? secretKey);
}

@Authentication(jwtAuthenticator())
@DefaultRequiredRole(['user'])
class Profile {
  @GetApi('/me')
  static async me(ctx: HandlerContext): Promise<object> {
    return { user: ctx.authenticatedUser, roles: ctx.authenticatedRoles };
  }

  @GetApi('/me/workflow')
  static async meInWorkflow(ctx: HandlerContext): Promise<object> {
    return (await ctx.invoke(Profile).identity()).getResult();
  }

  @Workflow()
  static async identity(ctx: WorkflowContext): Promise<object> {
    return { user: ctx.authenticatedUser, roles: ctx.authenticatedRoles, assumedRole: ctx.assumedRole };
  }
}

/** Options in code win over the config's: the user from `email`, roles from a nested claim. */
@Authentication(jwtAuthenticator({ rolesClaim: 'realm_access.roles', userClaim: 'email' }))
class Nested {
  @GetApi('/nested')
  static async me(ctx: HandlerContext): Promise<object> {
    return { user: ctx.authenticatedUser, roles: ctx.authenticatedRoles };
  }
}

let runtime: OperonRuntime;
let app: HttpServer;

beforeAll(async () => {
  runtime = await startRuntime(
    [Profile, Nested],
    testConfig('jwt', { authentication: { jwt: { secret: SECRET, issuer: 'https://issuer.test', audience: 'operon-tests' } } }),
  );
  app = await createHttpServer(runtime);
});
afterAll(async () => {
  await app.close();
  await runtime.destroy();
});

const get = (url: string, authorization?: string) =>
  app.inject({ method: 'GET', url, headers: authorization === undefined ? {} : { authorization } });

describe('jwtAuthenticator with a shared secret from the config', () => {
  it('accepts a valid token: its subject and roles become the identity, in the handler and in its workflows', async () => {
    const token = await hs256({ roles: ['user', 'admin'] });
    const res = await get('/me', `Bearer ${token}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ user: 'ada', roles: ['user', 'admin'] });
    const inWorkflow = await get('/me/workflow', `bearer ${token}`);
    expect(inWorkflow.json()).toEqual({ user: 'ada', roles: ['user', 'admin'], assumedRole: 'user' });
  });

  it('refuses an expired token', async () => {
    const token = await hs256({ roles: ['user'] }, { expiresIn: Math.floor(Date.now() / 1000) - 60 });
    const res = await get('/me', `Bearer ${token}`);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: 'the bearer token has expired' });
    expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token", error_description="the bearer token has expired"');
  });

  it('refuses a token signed with another secret', async () => {
    const token = await hs256({ roles: ['user'] }, { key: new TextEncoder().encode('another-secret-that-is-also-32-chars-long') });
    const res = await get('/me', `Bearer ${token}`);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: 'the bearer token has an invalid signature' });
  });

  it('refuses a token whose signature was tampered with', async () => {
    const token = await hs256({ roles: ['user'] });
    const [header, , signature] = token.split('.');
    const forged = jose.base64url.encode(JSON.stringify({ sub: 'mallory', roles: ['admin', 'user'], iss: 'https://issuer.test', aud: 'operon-tests' }));
    const res = await get('/me', `Bearer ${header}.${forged}.${signature}`);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: 'the bearer token has an invalid signature' });
  });

  it('refuses a request without an Authorization header', async () => {
    const res = await get('/me');
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: 'missing Authorization header: send "Authorization: Bearer <token>"' });
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });

  it.each([
    ['Basic YWRhOnNlY3JldA==', 'malformed Authorization header: expected "Bearer <token>"'],
    ['Bearer', 'malformed Authorization header: expected "Bearer <token>"'],
    ['Bearer two tokens', 'malformed Authorization header: expected "Bearer <token>"'],
    ['Bearer not"a*token', 'malformed Authorization header: the bearer token has characters a token cannot have'],
  ])('refuses the malformed header %j', async (authorization, message) => {
    const res = await get('/me', authorization);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: message });
    expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_request"/);
  });

  it('refuses a bearer token that is not a JWT', async () => {
    const res = await get('/me', 'Bearer abc.def');
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: 'the bearer token is not a well-formed JWT' });
  });

  it('refuses an unsigned token (alg none)', async () => {
    const unsigned = new jose.UnsecuredJWT({ roles: ['admin', 'user'] }).setSubject('mallory').setIssuer('https://issuer.test').setAudience('operon-tests').encode();
    const res = await get('/me', `Bearer ${unsigned}`);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: 'the bearer token is signed with an algorithm this server does not accept' });
  });

  it('checks the issuer and the audience the config names', async () => {
    const otherIssuer = await get('/me', `Bearer ${await hs256({ roles: ['user'] }, { issuer: 'https://elsewhere.test' })}`);
    expect(otherIssuer.statusCode).toBe(401);
    expect(otherIssuer.json()).toEqual({ error: 'the bearer token\'s "iss" claim is not accepted' });
    const otherAudience = await get('/me', `Bearer ${await hs256({ roles: ['user'] }, { audience: 'another-app' })}`);
    expect(otherAudience.json()).toEqual({ error: 'the bearer token\'s "aud" claim is not accepted' });
  });

  it('answers 403 when the token holds none of the required roles', async () => {
    const res = await get('/me', `Bearer ${await hs256({ roles: ['guest'] })}`);
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({ error: 'Profile.me requires one of the roles [user]; the caller holds none' });
    expect((await get('/me', `Bearer ${await hs256({})}`)).statusCode).toBe(403);
  });

  it('reads roles from a space-separated string, and refuses a roles claim of another type', async () => {
    expect((await get('/me', `Bearer ${await hs256({ roles: 'user reader' })}`)).json()).toEqual({ user: 'ada', roles: ['user', 'reader'] });
    const bad = await get('/me', `Bearer ${await hs256({ roles: 7 })}`);
    expect(bad.statusCode).toBe(401);
    expect(bad.json()).toEqual({ error: 'the bearer token\'s "roles" claim must be a list of strings' });
  });

  it('takes the user and roles claims given in code, reaching into nested claims', async () => {
    const signed = (claims: Record<string, unknown>) =>
      new jose.SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://issuer.test').setAudience('operon-tests').setExpirationTime('5m').sign(secretKey);
    const token = await signed({ email: 'ada@example.com', realm_access: { roles: ['auditor'] } });
    const res = await get('/nested', `Bearer ${token}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ user: 'ada@example.com', roles: ['auditor'] });
    const noUser = await signed({ sub: 'ada', realm_access: { roles: [] } });
    expect((await get('/nested', `Bearer ${noUser}`)).json()).toEqual({ error: 'the bearer token has no "email" claim naming the user' });
  });
});

describe('jwtAuthenticator with a JSON Web Key Set', () => {
  let server: Server;
  let jwksUrl: string;
  let jwksRuntime: OperonRuntime;
  let jwksApp: HttpServer;
  let signingKey: SigningKey;
  let strangerKey: SigningKey;
  let fetches = 0;

  beforeAll(async () => {
    const pair = await jose.generateKeyPair('ES256');
    signingKey = pair.privateKey;
    strangerKey = (await jose.generateKeyPair('ES256')).privateKey;
    const publicJwk = { ...(await jose.exportJWK(pair.publicKey)), kid: 'key-1', alg: 'ES256', use: 'sig' };
    server = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/.well-known/jwks.json`;

    @Authentication(jwtAuthenticator())
    class KeySet {
      @GetApi('/keyset/me')
      static async me(ctx: HandlerContext): Promise<object> {
        return { user: ctx.authenticatedUser, roles: ctx.authenticatedRoles };
      }
    }
    jwksRuntime = await startRuntime([KeySet], testConfig('jwks', { authentication: { jwt: { jwksUrl, rolesClaim: 'groups' } } }));
    jwksApp = await createHttpServer(jwksRuntime);
  });
  afterAll(async () => {
    await jwksApp.close();
    await jwksRuntime.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  const es256 = (key: SigningKey, kid = 'key-1') =>
    new jose.SignJWT({ groups: ['user'] }).setProtectedHeader({ alg: 'ES256', kid }).setSubject('grace').setExpirationTime('5m').sign(key);
  const getKeySet = (authorization: string) => jwksApp.inject({ method: 'GET', url: '/keyset/me', headers: { authorization } });

  it('accepts a token signed by a key of the set, fetching the set once', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await getKeySet(`Bearer ${await es256(signingKey)}`);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ user: 'grace', roles: ['user'] });
    }
    expect(fetches).toBe(1);
  });

  it('refuses a token signed by a key not in the set, or by the shared-secret algorithm', async () => {
    const forged = await getKeySet(`Bearer ${await es256(strangerKey)}`);
    expect(forged.statusCode).toBe(401);
    expect(forged.json()).toEqual({ error: 'the bearer token has an invalid signature' });
    const unknownKid = await getKeySet(`Bearer ${await es256(strangerKey, 'key-2')}`);
    expect(unknownKid.json()).toEqual({ error: 'the bearer token is signed with a key this server does not know' });
    const hs = await getKeySet(`Bearer ${await hs256({ sub: 'grace' })}`);
    expect(hs.json()).toEqual({ error: 'the bearer token is signed with an algorithm this server does not accept' });
  });

  it('answers 503 when the key set cannot be fetched', async () => {
    const deadUrl = `http://127.0.0.1:${await freePort()}/jwks.json`;
    @Authentication(jwtAuthenticator({ jwksUrl: deadUrl }))
    class Unreachable {
      @GetApi('/unreachable')
      static async me(_ctx: HandlerContext): Promise<string> {
        return 'never';
      }
    }
    const rt = await startRuntime([Unreachable], testConfig('jwksdead', { telemetry: { logs: { logLevel: 'error' } } }));
    const server = await createHttpServer(rt);
    try {
      const res = await server.inject({ method: 'GET', url: '/unreachable', headers: { authorization: `Bearer ${await es256(signingKey)}` } });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ error: 'cannot verify the bearer token now: the key set is unavailable; try again later' });
    } finally {
      await server.close();
      await rt.destroy();
    }
  });
});

describe('jwtAuthenticator settings', () => {
  it('stops the server from starting when neither the config nor the options give a key', async () => {
    @Authentication(jwtAuthenticator())
    class Unconfigured {
      @GetApi('/unconfigured')
      static async me(_ctx: HandlerContext): Promise<string> {
        return 'never';
      }
    }
    const rt = await startRuntime([Unconfigured], testConfig('jwtnone'));
    try {
      const failure = createHttpServer(rt);
      await expect(failure).rejects.toBeInstanceOf(OperonJwtNotConfiguredError);
      await expect(failure).rejects.toThrow(
        'jwtAuthenticator() of Unconfigured has no secret and no key set: set authentication.jwt.secret or authentication.jwt.jwksUrl',
      );
    } finally {
      await rt.destroy();
    }
  });

  it('works outside a runtime with the options given in code', async () => {
    const authenticate = jwtAuthenticator({ secret: SECRET });
    const token = await hs256({ roles: ['user'] });
    const request = { method: 'GET', url: '/', headers: { authorization: `Bearer ${token}` }, params: {}, query: {}, body: undefined, requestID: 'r' };
    const logger = { debug() {}, info() {}, warn() {}, error() {} };
    expect(await authenticate({ request, logger, getConfig: () => undefined })).toEqual({ authenticatedUser: 'ada', authenticatedRoles: ['user'] });
  });

  const resolve = (jwt: unknown) => resolveConfig({ authentication: { jwt } }, { file: 'cfg', appDir: process.cwd(), env: {} });
  const configError = (fn: () => unknown): OperonConfigError => {
    try {
      fn();
    } catch (error) {
      if (error instanceof OperonConfigError) return error;
      throw error;
    }
    throw new Error('expected an OperonConfigError');
  };

  it.each([
    [{}, 'cfg: authentication.jwt must set exactly one of secret and jwksUrl, got neither'],
    [{ secret: SECRET, jwksUrl: 'https://issuer.test/jwks' }, 'cfg: authentication.jwt must set exactly one of secret and jwksUrl, got both'],
    [{ secret: 'short-secret' }, 'cfg: authentication.jwt.secret must be a string of at least 32 characters, got a string (not shown)'],
    [{ jwksUrl: 'issuer.test/jwks' }, 'cfg: authentication.jwt.jwksUrl must be an http:// or https:// URL, got "issuer.test/jwks"'],
    [{ secret: SECRET, roles: 'roles' }, 'cfg: authentication.jwt.roles is not a known key (allowed: secret, jwksUrl, issuer, audience, rolesClaim, userClaim, requireExp, maxTokenAgeSeconds, clockToleranceSeconds)'],
  ])('rejects the config %j', (jwt, message) => {
    expect(configError(() => resolve(jwt)).message).toBe(message);
  });

  it('resolves the defaults, and never shows the secret in a dump of the config', () => {
    const config = resolve({ secret: SECRET });
    expect(config.authentication.jwt).toMatchObject({ secret: SECRET, rolesClaim: 'roles', userClaim: 'sub', issuer: undefined });
    expect(JSON.stringify(config)).not.toContain(SECRET);
  });
});
