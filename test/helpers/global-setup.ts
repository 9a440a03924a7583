/**
 * Starts one real Postgres for the whole run (the embedded one the product uses), or uses the
 * server named by OPERON_TEST_DATABASE_URL. Each test file makes its own databases on it.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../packages/runtime/src/database/embedded-postgres.js';
import { startPgBouncer, type PgBouncer } from './pgbouncer.js';

export interface TestPostgres {
  host: string;
  port: number;
  user: string;
  password: string;
  statementStats: boolean;
  /**
   * Set when the run goes through a transaction-mode PgBouncer (OPERON_TEST_POOLER=pgbouncer):
   * host and port above are the pooler's, these the server's own.
   */
  direct?: { host: string; port: number };
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

/**
 * Starts a server on a port free when asked; again on another one if something else took it
 * meanwhile (the machine is shared: initdb takes seconds under load, and other runs pick ports too).
 * The data folder is made once; a retry only starts the server.
 */
async function startOnAFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePort());
    } catch (error) {
      if (attempt >= 3 || !/already in use|failed to start on port/.test((error as Error).message)) throw error;
    }
  }
}

/** The majors the suite runs on besides the bundled one: the oldest and newest supported. */
const OTHER_MAJORS = ['14', '18'];

/** With OPERON_TEST_PG_MAJOR, the embedded Postgres of that major (the root package's pg-binaries-N). */
function binariesOfMajor(major: string | undefined): string | undefined {
  if (major === undefined || major === '' || major === '17') return undefined;
  if (!OTHER_MAJORS.includes(major)) throw new Error(`OPERON_TEST_PG_MAJOR must be one of 17, ${OTHER_MAJORS.join(', ')}; got ${major}`);
  const folder = join(fileURLToPath(new URL('../../node_modules/', import.meta.url)), `pg-binaries-${major}`);
  if (!existsSync(join(folder, 'native', 'bin', 'postgres'))) {
    throw new Error(`no Postgres ${major} binaries at ${folder}: run npx pnpm@10 install (they are an optional dependency for linux-x64)`);
  }
  return folder;
}

/** With OPERON_TEST_POOLER=pgbouncer, every test connects through a transaction-mode PgBouncer. */
async function throughPooler(server: TestPostgres, env: NodeJS.ProcessEnv, stops: Array<() => Promise<void>>): Promise<TestPostgres> {
  const pooler = env.OPERON_TEST_POOLER;
  if (pooler === undefined || pooler === '') return server;
  if (pooler !== 'pgbouncer') throw new Error(`OPERON_TEST_POOLER must be pgbouncer, got ${pooler}`);
  const bouncer: PgBouncer = await startPgBouncer({ serverHost: server.host, serverPort: server.port, user: server.user, password: server.password, port: await freePort() });
  stops.unshift(() => bouncer.stop());
  return { ...server, host: bouncer.host, port: bouncer.port, direct: { host: server.host, port: server.port } };
}

/**
 * Starts the project's Postgres and returns what stops it. With compat legs (OPERON_TEST_LEGS in
 * vitest.config.ts) each leg is a project whose env names its pooler or major; the root project
 * then runs no files and starts nothing.
 */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: Array<() => Promise<void>> = [];
  const teardown = async () => {
    for (const stop of stops) await stop();
  };
  if (process.env.OPERON_TEST_LEGS && project.isRootProject()) return teardown;
  const env: NodeJS.ProcessEnv = { ...process.env, ...project.config.env };
  const url = env.OPERON_TEST_DATABASE_URL;
  if (url) {
    const parsed = new URL(url);
    project.provide(
      'postgres',
      await throughPooler({
        host: parsed.hostname,
        port: Number(parsed.port || 5432),
        user: decodeURIComponent(parsed.username || 'postgres'),
        password: decodeURIComponent(parsed.password),
        statementStats: env.OPERON_TEST_PG_STAT_STATEMENTS === '1',
      }, env, stops),
    );
    return teardown;
  }
  const dir = mkdtempSync(join(tmpdir(), 'operon-test-pg-'));
  const binaryPackage = binariesOfMajor(env.OPERON_TEST_PG_MAJOR);
  chmodSync(dir, 0o755);
  let embedded: EmbeddedPostgres;
  try {
    embedded = await startOnAFreePort((port) =>
      startEmbeddedPostgres({
        dataDir: join(dir, 'pgdata'),
        port,
        binaryPackage,
        // No fixed password: the server listens on 127.0.0.1, where any local user could log in with
        // one. It makes a random one, kept owner-only beside its data folder.
        settings: {
          shared_preload_libraries: "'pg_stat_statements'",
          'pg_stat_statements.track': "'all'",
        },
      }),
    );
  } catch (error) {
    removeInBackground(dir);
    throw new Error(
      `could not start the test Postgres (${(error as Error).message}); ` +
        'run `npx pnpm@10 install` first, or set OPERON_TEST_DATABASE_URL to a Postgres you run',
    );
  }
  stops.push(async () => {
    await stopAtOnce(embedded);
    removeInBackground(dir);
  });
  project.provide(
    'postgres',
    await throughPooler({
      host: embedded.host,
      port: embedded.port,
      user: embedded.user,
      password: embedded.password,
      statementStats: true,
    }, env, stops),
  );
  return teardown;
}

/**
 * Stops the server without its shutdown checkpoint (an immediate shutdown, SIGQUIT to the
 * postmaster): its data folder is deleted next, and the checkpoint of a run's databases took 4 to
 * 14 s here.
 */
async function stopAtOnce(embedded: EmbeddedPostgres): Promise<void> {
  const pidFile = join(embedded.dataDir, 'postmaster.pid');
  try {
    process.kill(Number(readFileSync(pidFile, 'utf8').split('\n')[0]), 'SIGQUIT');
  } catch {
    return embedded.stop();
  }
  // The postmaster removes its pid file as it exits.
  for (const giveUpAt = Date.now() + 30_000; existsSync(pidFile); ) {
    if (Date.now() > giveUpAt) return embedded.stop();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Deletes the run's data folder without holding up the run's exit: every test file leaves
 * databases behind (about 11 MB and 340 files each), and unlinking the 67 of the five files of a
 * compat leg (727 MB, 22,700 files) took 30 to 37 s on the 2-core machine; the whole suite leaves
 * many times more.
 */
function removeInBackground(folder: string): void {
  const rm = spawn('rm', ['-rf', folder], { detached: true, stdio: 'ignore' });
  rm.on('error', () => rmSync(folder, { recursive: true, force: true }));
  rm.unref();
}
