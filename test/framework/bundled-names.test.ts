/**
 * `operon build` records handler parameter names before esbuild bundles the app: esbuild renames a
 * parameter that shadows a module-level name (`user` becomes `user2`), and binding by the compiled
 * name would then answer `POST {"user": ...}` with 400 and make `@LogMask('user')` stop startup.
 * The real bundler on a real app folder, the bundle served by a runtime on the embedded Postgres.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stop as stopEsbuild } from 'esbuild';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createHttpServer, type OperonConfig, type OperonRuntime } from '@operon/runtime';
import { bundleApp } from '../../packages/cli/src/app/bundle-app.js';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

const APP = `
import { LogMask, PostApi, type HandlerContext } from '@operon/sdk';

// Module-level names the handler's parameters shadow.
const user = 'module-level user';
const since = 0;
export function moduleNames(): string { return user + since; }

export class Accounts {
  @PostApi('/accounts')
  @LogMask('user')
  static async create(_ctx: HandlerContext, user: string, since?: Date): Promise<object> {
    return { user, since: since ? since.toISOString() : null, isDate: since instanceof Date };
  }
}
`;

// Inside the repository, so the bundle's `@operon/sdk` import resolves as it does for the tests.
const dir = mkdtempSync(join(fileURLToPath(new URL('.', import.meta.url)), '.bundle-'));
let runtime: OperonRuntime;
let app: Awaited<ReturnType<typeof createHttpServer>>;
let bundle: string;

beforeAll(async () => {
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'operations.ts'), APP);
  const outfile = join(dir, 'dist', 'operations.js');
  await bundleApp({ appDir: dir, runtimeConfig: { entrypoint: outfile } } as OperonConfig);
  bundle = readFileSync(outfile, 'utf8');
  const { Accounts } = (await import(/* @vite-ignore */ outfile)) as { Accounts: object };
  runtime = await startRuntime([Accounts], testConfig('bundled'));
  app = await createHttpServer(runtime);
});

afterAll(async () => {
  await app?.close();
  await runtime?.destroy();
  rmSync(dir, { recursive: true, force: true });
  // The bundler's service process.
  await stopEsbuild();
});

it('esbuild does rename the shadowing parameters in the bundle', () => {
  expect(bundle).toMatch(/create\(_ctx, user2, since2\)/);
});

it('binds the argument by the name in the source, and an optional `?: Date` one as a Date', async () => {
  const res = await app.inject({ method: 'POST', url: '/accounts', payload: { user: 'bob' } });
  expect(res.statusCode).toBe(200);
  expect(res.json()).toEqual({ user: 'bob', since: null, isDate: false });
  const dated = await app.inject({ method: 'POST', url: '/accounts', payload: { user: 'bob', since: '2026-01-02' } });
  expect(dated.json()).toEqual({ user: 'bob', since: '2026-01-02T00:00:00.000Z', isDate: true });
  const bad = await app.inject({ method: 'POST', url: '/accounts', payload: { user: 'bob', since: 'tomorrow' } });
  expect(bad.statusCode).toBe(400);
});

it('a missing argument is named as the source names it', async () => {
  const res = await app.inject({ method: 'POST', url: '/accounts', payload: { user2: 'bob' } });
  expect(res.statusCode).toBe(400);
  expect(res.json().error).toBe('missing argument "user" of Accounts.create: pass it as a field of the JSON body');
});
