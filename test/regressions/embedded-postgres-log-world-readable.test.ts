/**
 * `.operon/postgres.log` was created 0644: every local user could read what the server logs
 * (statements that failed, with their values). It is owner-only now, like everything the embedded
 * Postgres writes, also when an earlier version left it readable.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '@operon/runtime';
import { freePort } from '../helpers/global-setup.js';
import { canSwitchUser, runAsNobody } from '../helpers/hostile-user.js';

const appDir = mkdtempSync(join(tmpdir(), 'operon-log-mode-'));
chmodSync(appDir, 0o755);
const operonDir = join(appDir, '.operon');
const logFile = join(operonDir, 'postgres.log');
let server: EmbeddedPostgres | undefined;

afterAll(async () => {
  await server?.stop();
  rmSync(appDir, { recursive: true, force: true });
});

describe.skipIf(!canSwitchUser)('the embedded Postgres log', () => {
  it('is readable by its owner only, even when an earlier version left it world-readable', async () => {
    // As an earlier version left things: an open folder and a world-readable log.
    mkdirSync(operonDir, { mode: 0o755 });
    chmodSync(operonDir, 0o755);
    writeFileSync(logFile, 'an old line with a secret\n', { mode: 0o644 });
    chmodSync(logFile, 0o644);

    server = await startEmbeddedPostgres({ dataDir: join(operonDir, 'pgdata'), port: await freePort() });
    expect((statSync(logFile).mode & 0o777).toString(8)).toBe('600');
    const read = runAsNobody('cat', [logFile]);
    expect(read.status).not.toBe(0);
    expect(read.stdout).not.toContain('secret');
    // Other users may pass through the folder (the server's user must) but not list it.
    expect(statSync(operonDir).mode & 0o066).toBe(0);
  });
});
