/** An app folder for testing-runtime tests: operon-config.yaml on the test server, and a migrations folder. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { uniqueName } from '../helpers/test-databases.js';

export interface TestAppDir {
  readonly dir: string;
  readonly configPath: string;
  /** The databases the config names (the served app's). */
  readonly names: { readonly app: string; readonly sys: string };
  remove(): void;
}

export function makeAppDir(prefix: string, migrations: Record<string, string>): TestAppDir {
  const server = inject('postgres');
  const name = uniqueName(prefix);
  const names = { app: `${name}_app`, sys: `${name}_sys` };
  const dir = mkdtempSync(join(tmpdir(), 'operon-testing-runtime-'));
  const configPath = join(dir, 'operon-config.yaml');
  writeFileSync(
    configPath,
    [
      'database:',
      `  hostname: ${server.host}`,
      `  port: ${server.port}`,
      `  username: ${server.user}`,
      `  password: ${server.password}`,
      `  user_database: ${names.app}`,
      `  system_database: ${names.sys}`,
      // A run through PgBouncer (OPERON_TEST_POOLER) tells Operon so, as a user behind one would.
      ...(server.direct ? ['  pooler: transaction'] : []),
      'telemetry:',
      `  logs: { logLevel: ${process.env.OPERON_TEST_LOG_LEVEL ?? 'warn'} }`,
      '',
    ].join('\n'),
  );
  mkdirSync(join(dir, 'migrations'));
  for (const [file, sql] of Object.entries(migrations)) writeFileSync(join(dir, 'migrations', file), sql);
  return { dir, configPath, names, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
