/**
 * Starts one real Postgres for the whole run (the embedded one the product uses), or uses the
 * server named by OPERON_TEST_DATABASE_URL. Each test file makes its own databases on it.
 */
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../packages/runtime/src/database/embedded-postgres.js';

export interface TestPostgres {
  host: string;
  port: number;
  user: string;
  password: string;
  statementStats: boolean;
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: TestPostgres;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

let embedded: EmbeddedPostgres | undefined;
let dir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  const url = process.env.OPERON_TEST_DATABASE_URL;
  if (url) {
    const parsed = new URL(url);
    project.provide('postgres', {
      host: parsed.hostname,
      port: Number(parsed.port || 5432),
      user: decodeURIComponent(parsed.username || 'postgres'),
      password: decodeURIComponent(parsed.password),
      statementStats: process.env.OPERON_TEST_PG_STAT_STATEMENTS === '1',
    });
    return;
  }
  dir = mkdtempSync(join(tmpdir(), 'operon-test-pg-'));
  chmodSync(dir, 0o755);
  try {
    embedded = await startEmbeddedPostgres({
      dataDir: join(dir, 'pgdata'),
      port: await freePort(),
      // No fixed password: the server listens on 127.0.0.1, where any local user could log in with
      // one. It makes a random one, kept owner-only beside its data folder.
      settings: { shared_preload_libraries: "'pg_stat_statements'", 'pg_stat_statements.track': "'all'" },
    });
  } catch (error) {
    throw new Error(
      `could not start the test Postgres (${(error as Error).message}); ` +
        'run `npx pnpm@10 install` first, or set OPERON_TEST_DATABASE_URL to a Postgres you run',
    );
  }
  project.provide('postgres', {
    host: embedded.host,
    port: embedded.port,
    user: embedded.user,
    password: embedded.password,
    statementStats: true,
  });
}

export async function teardown(): Promise<void> {
  await embedded?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
