/**
 * Regression: `operon build` records each handler's parameter names before esbuild renames the
 * ones that shadow a module-level name (`user` becomes `user2`), but it recorded nothing for
 * - a method with one destructured parameter (even one the route option `args` names), so its
 *   other parameters bound by their renamed names: `POST {"user": ...}` was a 400 "missing user2";
 * - a method that declares TypeScript's `this` parameter, whose names were recorded one place
 *   off: the context's own name became the first argument (400 "missing _ctx");
 * - a class expression (`export const Notes = class { ... }`) or a class made inside a function,
 *   which bound by the renamed names too.
 * The names are now recorded inside each class itself, wherever it is declared.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stop as stopEsbuild } from 'esbuild';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createHttpServer, type OperonConfig, type OperonRuntime } from '@operon/runtime';
import { bundleApp } from '../../packages/cli/src/app/bundle-app.js';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

const APP = `
import { PostApi, type HandlerContext } from '@operon/sdk';

// Module-level names the handlers' parameters shadow: esbuild renames those parameters.
const user = 'module-level user';
const page = 0;
export function moduleNames(): string { return user + page; }

interface Paging { page: number }

export class Accounts {
  @PostApi('/paged', { args: [{}, { name: 'paging' }] })
  static async paged(_ctx: HandlerContext, user: string, { page }: Paging): Promise<object> {
    return { user, page };
  }

  @PostApi('/self')
  static async self(this: typeof Accounts, _ctx: HandlerContext, user: string): Promise<object> {
    return { user, same: this === Accounts };
  }
}

export const Notes = class {
  @PostApi('/notes')
  static async note(_ctx: HandlerContext, user: string): Promise<object> {
    return { user };
  }
};

function makeInbox() {
  return class Inbox {
    @PostApi('/inbox')
    static async open(_ctx: HandlerContext, user: string): Promise<object> {
      return { user };
    }
  };
}
export const Inbox = makeInbox();
`;

// Inside the repository, so the bundle's `@operon/sdk` import resolves as it does for the tests.
const dir = mkdtempSync(join(fileURLToPath(new URL('.', import.meta.url)), '.bundle-'));
let runtime: OperonRuntime;
let app: Awaited<ReturnType<typeof createHttpServer>>;

beforeAll(async () => {
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'operations.ts'), APP);
  const outfile = join(dir, 'dist', 'operations.js');
  await bundleApp({ appDir: dir, runtimeConfig: { entrypoint: outfile } } as OperonConfig);
  const classes = Object.values(await import(/* @vite-ignore */ outfile)).filter((value) => typeof value === 'function' && 'prototype' in value);
  runtime = await startRuntime(classes, testConfig('bundlednames'));
  app = await createHttpServer(runtime);
});

afterAll(async () => {
  await app?.close();
  await runtime?.destroy();
  rmSync(dir, { recursive: true, force: true });
  await stopEsbuild();
});

const post = async (url: string, payload: object) => {
  const res = await app.inject({ method: 'POST', url, payload });
  return { status: res.statusCode, body: res.json() };
};

it('binds by the source names beside a destructured parameter', async () => {
  expect(await post('/paged', { user: 'bob', paging: { page: 2 } })).toEqual({ status: 200, body: { user: 'bob', page: 2 } });
});

it('binds by the source names after a `this` parameter', async () => {
  expect(await post('/self', { user: 'bob' })).toEqual({ status: 200, body: { user: 'bob', same: true } });
});

it('binds by the source names in a class expression and in a class made inside a function', async () => {
  expect(await post('/notes', { user: 'bob' })).toEqual({ status: 200, body: { user: 'bob' } });
  expect(await post('/inbox', { user: 'bob' })).toEqual({ status: 200, body: { user: 'bob' } });
});
