/**
 * initdb read the new cluster's password from `/tmp/operon-pgpass-<pid>-<ms>`: a predictable name,
 * opened following symlinks, then chowned. Another local user who planted links under the names to
 * come made a root runtime overwrite (with the password) and chown a file of their choosing. The
 * file is now created exclusively in a private mkdtemp folder, so no planted name is ever used.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '@operon/runtime';
import { freePort } from '../helpers/global-setup.js';

const root = mkdtempSync(join(tmpdir(), 'operon-symlink-attack-'));
chmodSync(root, 0o755);
const victim = join(root, 'victim.txt');
const planted: string[] = [];
let server: EmbeddedPostgres | undefined;

afterAll(async () => {
  await server?.stop();
  for (const link of planted) rmSync(link, { force: true });
  rmSync(root, { recursive: true, force: true });
});

describe('the password file initdb reads', () => {
  it('is never a path another user could have planted a link at', async () => {
    writeFileSync(victim, 'precious\n', { mode: 0o644 });
    const owner = statSync(victim).uid;
    // Links at every name the old scheme (`operon-pgpass-<pid>-<Date.now()>`) would pick in the
    // 1.5 s after the moment the cluster is created; the attacker knows the pid and the clock.
    let startAt = 0;
    for (let lead = 3_000; startAt === 0; lead *= 2) {
      const at = Date.now() + lead;
      for (let ms = at; ms < at + 1_500; ms++) {
        const link = join(tmpdir(), `operon-pgpass-${process.pid}-${ms}`);
        if (existsSync(link)) continue;
        symlinkSync(victim, link);
        planted.push(link);
      }
      if (Date.now() < at) startAt = at; // planted in time; else plant a later window
    }
    await new Promise((resolve) => setTimeout(resolve, startAt - Date.now()));

    server = await startEmbeddedPostgres({ dataDir: join(root, 'pgdata'), port: await freePort() });

    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(statSync(victim).uid).toBe(owner);
  });
});
