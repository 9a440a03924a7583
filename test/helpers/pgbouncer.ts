/**
 * A real PgBouncer in transaction mode, on loopback, in front of a Postgres the tests run: the
 * pooler that users put between Operon and their server. Debian's `pgbouncer` package provides the
 * binary (.ci/run installs it). It refuses to run as root, so as root it runs as user `postgres`.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export interface PgBouncer {
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface PgBouncerOptions {
  readonly serverHost: string;
  readonly serverPort: number;
  readonly user: string;
  readonly password: string;
  readonly port: number;
  /** Server connections per (database, user): small, so that sessions really are shared. */
  readonly poolSize?: number;
  /** Only these databases are served (as a pgbouncer.ini often lists them); default: any name. */
  readonly databases?: readonly string[];
}

export const PGBOUNCER = '/usr/sbin/pgbouncer';

export function havePgBouncer(): boolean {
  return existsSync(PGBOUNCER);
}

function postgresIds(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  return {
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
  };
}

function quoted(value: string): string {
  return `"${value.replace(/"/g, '""')}"`;
}

export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  if (!havePgBouncer()) throw new Error(`${PGBOUNCER} is missing: install Debian's pgbouncer package (apt-get install pgbouncer)`);
  const dir = mkdtempSync(join(tmpdir(), 'operon-pgbouncer-'));
  const ids = postgresIds();
  const userlist = join(dir, 'userlist.txt');
  const ini = join(dir, 'pgbouncer.ini');
  writeFileSync(userlist, `${quoted(options.user)} ${quoted(options.password)}\n`, { mode: 0o600 });
  writeFileSync(
    ini,
    [
      '[databases]',
      // Any database name goes to the same server: each test file makes databases of its own.
      ...(options.databases ?? ['*']).map((name) => `${name} = host=${options.serverHost} port=${options.serverPort}${name === '*' ? '' : ` dbname=${name}`}`),
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${options.port}`,
      'unix_socket_dir =',
      'auth_type = scram-sha-256',
      `auth_file = ${userlist}`,
      'pool_mode = transaction',
      `default_pool_size = ${options.poolSize ?? 10}`,
      'max_client_conn = 2000',
      'max_db_connections = 0',
      // Prepared statements and session state must not be relied on: PgBouncer 1.18 keeps none.
      'server_reset_query =',
      'ignore_startup_parameters = extra_float_digits',
      // Operon creates its databases on first use, after a first login to them has failed: retry at once.
      'server_login_retry = 0',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      'log_connections = 0',
      'log_disconnections = 0',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  if (ids) {
    chmodSync(dir, 0o700);
    for (const path of [dir, userlist, ini]) chownSync(path, ids.uid, ids.gid);
  }
  const child: ChildProcess = spawn(PGBOUNCER, [ini], { stdio: ['ignore', 'ignore', 'pipe'], ...(ids ?? {}) });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!(await accepts(options.port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`pgbouncer did not start: ${stderr.trim() || 'no output'}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    host: '127.0.0.1',
    port: options.port,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
