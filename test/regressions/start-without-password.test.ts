/**
 * Regression (found by the chaos harness's config fuzzer: `database.password: null` against a
 * server that asks for a SCRAM password): `operon start` printed "unexpected error: SASL:
 * SCRAM-SERVER-FIRST-MESSAGE: client password must be a string" and then did not exit for a
 * minute, because node-postgres keeps the socket of a refused login open until the server's
 * authentication_timeout. A failed command now exits at once, with the CLI's database message.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { bundleFixture } from '../helpers/child-app.js';
import { freePort } from '../helpers/global-setup.js';
import { assertCliBuilt, expectOneLineError, operon } from '../cli/cli-process.js';

let dir: string | undefined;
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('operon start with no password for a server that wants one', () => {
  it('fails at once with one line naming the server, and exits', async () => {
    assertCliBuilt();
    const server = inject('postgres');
    dir = mkdtempSync(join(tmpdir(), 'operon-no-password-'));
    chmodSync(dir, 0o755);
    const bundle = await bundleFixture('greeter.standard.ts');
    writeFileSync(
      join(dir, 'operon-config.yaml'),
      [
        'database:',
        `  hostname: ${server.host}`,
        `  port: ${server.port}`,
        `  username: ${server.user}`,
        '  password: ""',
        '  user_database: no_password_app',
        'runtimeConfig:',
        '  host: 127.0.0.1',
        `  port: ${await freePort()}`,
        `  entrypoint: ${bundle}`,
        '',
      ].join('\n'),
    );
    const startedAt = Date.now();
    const result = await operon(['start'], { cwd: dir, timeoutMs: 30_000 });
    expect(Date.now() - startedAt).toBeLessThan(15_000);
    expectOneLineError(result, 1, /^cannot use Postgres at 127\.0\.0\.1:\d+ as postgres: .*password.*; check the database section of operon-config\.yaml$/);
  }, 60_000);
});
