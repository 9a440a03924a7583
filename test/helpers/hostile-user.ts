/**
 * Runs code as another local user (`nobody`), the way an attacker on the same machine would:
 * a real OS user, a real process, no privileges of the test's own. Needs root (to switch users).
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { userInfo } from 'node:os';

export const HOSTILE_USER = 'nobody';

/** True when the tests run as root and can act as another user. */
export const canSwitchUser = userInfo().uid === 0;

export interface HostileResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `command args…` as `nobody` (runuser), with a clean environment. */
export function runAsNobody(command: string, args: readonly string[], input?: string): HostileResult {
  const result = spawnSync('runuser', ['-u', HOSTILE_USER, '--', command, ...args], {
    encoding: 'utf8',
    input,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp' },
    timeout: 30_000,
  });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

/** node-postgres, by absolute path, for a script run as `nobody`. */
const pgPath = createRequire(import.meta.url).resolve('pg');

/**
 * As `nobody`, tries to log in to Postgres on 127.0.0.1:`port` as `postgres` with `password`;
 * resolves to 'connected' or the SQLSTATE (or error code) of the refusal.
 */
export function nobodyLogsIn(port: number, password: string): string {
  const script = `
    const pg = require(${JSON.stringify(pgPath)});
    const client = new pg.Client({ host: '127.0.0.1', port: ${port}, user: 'postgres', password: process.argv[1], database: 'postgres', connectionTimeoutMillis: 5000 });
    client.connect().then(
      async () => { const { rows } = await client.query('SELECT rolsuper FROM pg_roles WHERE rolname = current_user'); console.log(rows[0].rolsuper ? 'connected-superuser' : 'connected'); await client.end(); },
      (error) => { console.log(error.code || error.message); client.end().catch(() => {}); });`;
  const result = runAsNobody(process.execPath, ['-e', script, password]);
  return result.stdout.trim() || `no answer (exit ${result.status}): ${result.stderr.trim()}`;
}
