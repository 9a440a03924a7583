/**
 * The embedded Postgres listens on 127.0.0.1, which every local user can reach. Its superuser's
 * password was `postgres` by default, so any local account (here the real OS user `nobody`) could
 * log in as superuser and run `COPY ... TO PROGRAM` as the postgres user. It now gets a random
 * password at its first start, kept in `.operon/pgpassword` for its owner only, and a cluster
 * made with the old default gets a new one at its next start.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperonRuntime, resolveConfig, type OperonConfig } from '@operon/runtime';
import { freePort } from '../helpers/global-setup.js';
import { canSwitchUser, nobodyLogsIn, runAsNobody } from '../helpers/hostile-user.js';

const appDir = mkdtempSync(join(tmpdir(), 'operon-default-password-'));
// The server runs as `postgres` under root: it must reach the app folder.
chmodSync(appDir, 0o755);
const passwordFile = join(appDir, '.operon', 'pgpassword');
let config: OperonConfig;
let runtime: OperonRuntime | undefined;

beforeAll(async () => {
  config = resolveConfig(
    { database: { port: await freePort(), user_database: 'default_password_app' }, telemetry: { logs: { logLevel: 'warn' } } },
    { file: join(appDir, 'operon-config.yaml'), appDir, env: {} },
  );
  runtime = await OperonRuntime.create({ config, classes: [] });
});

afterAll(async () => {
  await runtime?.destroy({ stopEmbedded: true });
  rmSync(appDir, { recursive: true, force: true });
});

describe.skipIf(!canSwitchUser)('the embedded Postgres and another local user', () => {
  it('refuses the old default password to another local user', () => {
    expect(nobodyLogsIn(config.database.port, 'postgres')).toBe('28P01');
  });

  it('keeps its random password in .operon/pgpassword, readable by its owner only', () => {
    expect(existsSync(passwordFile)).toBe(true);
    expect(statSync(passwordFile).mode & 0o077).toBe(0);
    const password = readFileSync(passwordFile, 'utf8').trim();
    expect(password).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(runtime!.connection.password).toBe(password);
    const stolen = runAsNobody('cat', [passwordFile]);
    expect(stolen.status).not.toBe(0);
    expect(stolen.stderr).toMatch(/Permission denied/);
    // Nor can it list the folder to look for other files.
    expect(runAsNobody('ls', [join(appDir, '.operon')]).status).not.toBe(0);
  });

  it('gives a cluster made with the old default a new password at its next start', async () => {
    // A cluster as an earlier version left it: password `postgres`, no password file.
    await runtime!.appPool.query("ALTER ROLE postgres PASSWORD 'postgres'");
    await runtime!.destroy({ stopEmbedded: true });
    runtime = undefined;
    rmSync(passwordFile, { force: true });

    runtime = await OperonRuntime.create({ config, classes: [] });
    expect((await runtime.appPool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect(nobodyLogsIn(config.database.port, 'postgres')).toBe('28P01');
    const password = readFileSync(passwordFile, 'utf8').trim();
    expect(password).not.toBe('postgres');
    expect(runtime.connection.password).toBe(password);
    expect(statSync(passwordFile).mode & 0o077).toBe(0);
  });
});
