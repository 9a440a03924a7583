import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetApi, PostApi, type HandlerContext } from '@operon/sdk';
import { OperonHttpRouteError, OperonRuntime, createHttpServer, createLogger, type OperonConfig } from '@operon/runtime';
import { testConfig } from '../helpers/test-databases.js';

class Destructured {
  @PostApi('/destructured')
  static async handler(_ctx: HandlerContext, { a }: { a: string }): Promise<string> {
    return a;
  }
}

class First {
  @GetApi('/same')
  static async one(_ctx: HandlerContext): Promise<string> {
    return '1';
  }
}

class Second {
  @GetApi('/same')
  static async two(_ctx: HandlerContext): Promise<string> {
    return '2';
  }
}

class Health {
  @GetApi('/operon/health')
  static async mine(_ctx: HandlerContext): Promise<string> {
    return 'mine';
  }
}

class BadSchema {
  @PostApi('/bad-schema', { schema: { body: { type: 'not-a-type' } } })
  static async handler(_ctx: HandlerContext): Promise<string> {
    return '';
  }
}

let config: OperonConfig;
const runtimes: OperonRuntime[] = [];

/** Runtimes share one pair of databases: only their classes differ. */
async function runtimeWith(classes: unknown[]): Promise<OperonRuntime> {
  const runtime = await OperonRuntime.create({ config, classes, logger: createLogger('silent') });
  runtimes.push(runtime);
  return runtime;
}

beforeAll(() => {
  config = testConfig('routes');
});

afterAll(async () => {
  await Promise.all(runtimes.map((runtime) => runtime.destroy({ timeoutMs: 0 })));
});

describe('route registration', () => {
  it('refuses a destructured parameter, naming the handler', async () => {
    const runtime = await runtimeWith([Destructured]);
    const error = await createHttpServer(runtime).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperonHttpRouteError);
    expect((error as Error).message).toMatch(/^parameter 2 of handler Destructured\.handler is destructured/);
  });

  it('refuses two handlers on one method and path, naming both', async () => {
    const runtime = await runtimeWith([First, Second]);
    await expect(createHttpServer(runtime)).rejects.toThrow('Second.two and First.one both serve GET /same');
  });

  it('keeps GET /operon/health for Operon', async () => {
    const runtime = await runtimeWith([Health]);
    await expect(createHttpServer(runtime)).rejects.toThrow('Health.mine and Operon both serve GET /operon/health');
  });

  it('reports a schema Fastify cannot compile, naming the route', async () => {
    const runtime = await runtimeWith([BadSchema]);
    const error = await createHttpServer(runtime).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperonHttpRouteError);
    expect((error as Error).message).toMatch(/bad-schema/);
  });
});
