/**
 * After a reboot, `.operon/pgdata/postmaster.pid` can name a pid that now belongs to another
 * process. It was taken for a running server and "adopted": nothing started, and every connection
 * was refused. The adopted server must be a Postgres of this data folder that answers; otherwise
 * the lock file is stale and the server is started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OperonRuntime, resolveConfig } from '@operon/runtime';
import { freePort } from '../helpers/global-setup.js';

const appDir = mkdtempSync(join(tmpdir(), 'operon-stale-pid-'));
chmodSync(appDir, 0o755);
let bystander: ChildProcess | undefined;
const runtimes: OperonRuntime[] = [];

afterAll(async () => {
  bystander?.kill('SIGKILL');
  for (const rt of runtimes) await rt.destroy({ stopEmbedded: true }).catch(() => undefined);
  rmSync(appDir, { recursive: true, force: true });
});

describe('a stale postmaster.pid naming a live process that is not the server', () => {
  it('is not adopted: the server is started and answers', async () => {
    const config = resolveConfig(
      { database: { port: await freePort(), user_database: 'stale_pid_app' }, telemetry: { logs: { logLevel: 'warn' } } },
      { file: join(appDir, 'operon-config.yaml'), appDir, env: {} },
    );
    const first = await OperonRuntime.create({ config, classes: [] });
    await first.destroy({ stopEmbedded: true });

    // A process that took the dead server's pid after a reboot: alive, but not Postgres.
    bystander = spawn('sleep', ['120'], { stdio: 'ignore' });
    const dataDir = join(appDir, '.operon', 'pgdata');
    writeFileSync(join(dataDir, 'postmaster.pid'), `${bystander.pid}\n${dataDir}\n${Math.floor(Date.now() / 1000)}\n${config.database.port}\n\n127.0.0.1\n`);

    const next = await OperonRuntime.create({ config, classes: [] });
    runtimes.push(next);
    expect((await next.appPool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect(bystander.exitCode).toBeNull(); // left alone
  });
});
