/**
 * `@FastifyPlugin` on a class, with the real `@fastify/cors`, `@fastify/helmet` and
 * `@fastify/rate-limit` and a user's own plugins, on a real Fastify server with a runtime on the
 * embedded Postgres: each plugin acts on its class's routes only (not on another class's, nor on
 * `/operon/*`), and authentication, argument binding and `traceparent` still work under it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import {
  Authentication,
  DefaultRequiredRole,
  FastifyPlugin,
  GetApi,
  OperonDecoratorError,
  OperonNotAuthenticatedError,
  PostApi,
  type HandlerContext,
} from '@operon/sdk';
import { createHttpServer, OperonHttpPluginError, type OperonRuntime } from '@operon/runtime';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { startRuntime, testConfig } from '../helpers/test-databases.js';
import { LegacyTagged, tag } from '../fixtures/legacy/plugins.legacy-decorators.js';

const SHOP_ORIGIN = 'https://shop.example';

@FastifyPlugin(cors, { origin: SHOP_ORIGIN })
@FastifyPlugin(helmet)
@FastifyPlugin(tag, { name: 'shop' })
@Authentication(({ request }) => {
  const user = request.headers['x-user'];
  if (typeof user !== 'string') throw new OperonNotAuthenticatedError('say who you are in x-user');
  return { authenticatedUser: user, authenticatedRoles: ['user'] };
})
@DefaultRequiredRole(['user'])
class Shop {
  @PostApi('/shop/orders/:id', { args: [{ name: 'id', source: 'path' }, { name: 'x-tenant', source: 'header' }, { name: 'item', source: 'body' }] })
  static async order(ctx: HandlerContext, id: string, tenant: string, item: string): Promise<object> {
    return { id, tenant, item, user: ctx.authenticatedUser };
  }
}

@FastifyPlugin(cors, { origin: 'https://admin.example' })
@FastifyPlugin(rateLimit, { max: 2, timeWindow: '1 minute' })
class Limited {
  @GetApi('/limited/:n')
  static async limited(_ctx: HandlerContext, n: string): Promise<string> {
    return `limited ${n}`;
  }
}

class Plain {
  @GetApi('/plain/:n')
  static async plain(_ctx: HandlerContext, n: string): Promise<string> {
    return `plain ${n}`;
  }
}

let receiver: OtlpReceiver;
let runtime: OperonRuntime;
let app: Awaited<ReturnType<typeof createHttpServer>>;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  runtime = await startRuntime(
    [Shop, Limited, Plain, LegacyTagged],
    testConfig('plugins', { telemetry: { logs: { logLevel: 'fatal' }, traces: { enabled: true, endpoint: receiver.endpoint } } }),
  );
  app = await createHttpServer(runtime);
});

afterAll(async () => {
  await app?.close();
  await runtime?.destroy();
  await receiver?.close();
});

const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;

describe('@FastifyPlugin', () => {
  it('acts on its class: CORS, security headers and the user plugin, with authentication, binding and traceparent under them', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/shop/orders/7',
      headers: { origin: SHOP_ORIGIN, 'x-user': 'ada', 'x-tenant': 'acme' },
      payload: { item: 'lamp' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id: '7', tenant: 'acme', item: 'lamp', user: 'ada' });
    expect(res.headers['access-control-allow-origin']).toBe(SHOP_ORIGIN);
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['x-order']).toBe('shop');
    expect(res.headers['traceparent']).toMatch(TRACEPARENT);

    const anonymous = await app.inject({ method: 'POST', url: '/shop/orders/7', headers: { origin: SHOP_ORIGIN }, payload: { item: 'lamp' } });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['access-control-allow-origin']).toBe(SHOP_ORIGIN);
    expect(anonymous.headers['traceparent']).toMatch(TRACEPARENT);
  });

  it('answers preflights for its class paths only, each class with its own CORS options', async () => {
    const preflight = (url: string, origin: string) =>
      app.inject({ method: 'OPTIONS', url, headers: { origin, 'access-control-request-method': 'POST' } });
    const shop = await preflight('/shop/orders/9?x=1', SHOP_ORIGIN);
    expect(shop.statusCode).toBe(204);
    expect(shop.headers['access-control-allow-origin']).toBe(SHOP_ORIGIN);
    const limited = await preflight('/limited/1', 'https://admin.example');
    expect(limited.statusCode).toBe(204);
    expect(limited.headers['access-control-allow-origin']).toBe('https://admin.example');
    for (const url of ['/plain/1', '/operon/health', '/nowhere']) {
      const other = await preflight(url, SHOP_ORIGIN);
      expect(other.statusCode, url).toBe(404);
      expect(other.headers['access-control-allow-origin'], url).toBeUndefined();
    }
  });

  it('leaves other classes and /operon/* alone', async () => {
    for (const url of ['/plain/1', '/operon/health']) {
      const res = await app.inject({ method: 'GET', url, headers: { origin: SHOP_ORIGIN } });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['access-control-allow-origin'], url).toBeUndefined();
      expect(res.headers['x-frame-options'], url).toBeUndefined();
      expect(res.headers['x-order'], url).toBeUndefined();
      expect(res.headers['x-ratelimit-limit'], url).toBeUndefined();
    }
    for (let i = 0; i < 4; i++) expect((await app.inject({ method: 'GET', url: `/plain/${i}` })).statusCode).toBe(200);
  });

  it('lets a rate limiter refuse with its own status and message, traceparent included', async () => {
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 3; i++) {
      last = await app.inject({ method: 'GET', url: `/limited/${i}` });
      statuses.push(last.statusCode);
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect(last!.json()).toEqual({ error: expect.stringMatching(/^Rate limit exceeded, retry in /) });
    expect(last!.headers['retry-after']).toBeDefined();
    expect(last!.headers['traceparent']).toMatch(TRACEPARENT);
    // The other classes still answer.
    expect((await app.inject({ method: 'GET', url: '/plain/9' })).statusCode).toBe(200);
  });

  it('registers stacked plugins in the order written (experimentalDecorators)', async () => {
    const res = await app.inject({ method: 'GET', url: '/legacy/tagged' });
    expect(res.body).toBe('tagged');
    expect(res.headers['x-order']).toBe('first,second');
  });

  it('stops the server with one line naming the class when a plugin throws at registration', async () => {
    async function explode(): Promise<void> {
      throw new Error('no API key configured\n    at somewhere (stack)');
    }
    @FastifyPlugin(explode)
    class Broken {
      @GetApi('/broken')
      static async broken(_ctx: HandlerContext): Promise<string> {
        return 'never';
      }
    }
    const brokenRuntime = await startRuntime([Broken], testConfig('plugins_broken', { telemetry: { logs: { logLevel: 'fatal' } } }));
    try {
      const failure = await createHttpServer(brokenRuntime).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(OperonHttpPluginError);
      expect((failure as Error).message).toBe('@FastifyPlugin(explode) of Broken failed to register: no API key configured');
    } finally {
      await brokenRuntime.destroy();
    }
  });

  it('refuses what is not a plugin when the class is decorated', () => {
    expect(() => FastifyPlugin('cors' as never)).toThrow(OperonDecoratorError);
    expect(() => FastifyPlugin('cors' as never)).toThrow(/@FastifyPlugin takes a Fastify plugin function .*got string/);
  });

  it("types the options by the plugin's own", () => {
    // @ts-expect-error: @fastify/rate-limit's max is a number or a function
    FastifyPlugin(rateLimit, { max: 'many' });
    // @ts-expect-error: the user's plugin needs its name
    FastifyPlugin(tag, { label: 'x' });
    expect(FastifyPlugin(cors, { origin: [SHOP_ORIGIN] })).toBeTypeOf('function');
  });
});
