/**
 * The harness's own Postgres: the embedded server Operon ships, in the run's temp folder, on a
 * port of its own. The app reaches it by hostname and port (it does not own it), so the harness
 * can stop and start it under the running app. The first start goes through the runtime's
 * `startEmbeddedPostgres` (initdb and settings); restarts run `pg_ctl` asynchronously, so the load
 * clients keep running while the server is down.
 */
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../packages/runtime/src/database/embedded-postgres.js';

export const PG_PASSWORD = 'chaos';
export const PG_USER = 'postgres';
/** The harness's own sessions carry this name, so faults aimed at the app's sessions spare them. */
export const HARNESS_APPLICATION_NAME = 'operon-chaos';

export class PostgresServer {
  private running = true;

  private constructor(
    readonly port: number,
    readonly dataDir: string,
    private readonly bin: string,
  ) {}

  /** Creates the cluster under `root` (a folder the server's user can reach) and starts it. */
  static async create(root: string, port: number): Promise<PostgresServer> {
    const dataDir = join(root, 'pgdata');
    // No fsync: it only protects against the machine crashing, which the harness never does. A
    // commit is still written to the OS before it is acknowledged (synchronous_commit stays on),
    // so a Postgres killed with `immediate` loses nothing it confirmed, as Operon requires.
    await startEmbeddedPostgres({ dataDir, port, password: PG_PASSWORD, settings: { fsync: 'off', max_connections: '200' } });
    return new PostgresServer(port, dataDir, binaryFolder());
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** `fast`: sessions are ended, in-flight transactions roll back; `immediate`: a crash, WAL replay at the next start. */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    this.running = false;
    await this.pgCtl(['stop', '-D', this.dataDir, '-m', mode, '-w', '-t', '60']);
  }

  async start(): Promise<void> {
    const logFile = join(dirname(this.dataDir), 'postgres.log');
    await this.pgCtl(['start', '-D', this.dataDir, '-l', logFile, '-w', '-t', '60', '-o', `-p ${this.port}`]);
    this.running = true;
  }

  /** For exit handlers: stops the server synchronously if it may still run. */
  stopNow(): void {
    if (!existsSync(join(this.dataDir, 'postmaster.pid'))) return;
    spawnSync(join(this.bin, 'pg_ctl'), ['stop', '-D', this.dataDir, '-m', 'immediate', '-w', '-t', '30'], this.spawnOptions());
    this.running = false;
  }

  /** A client of the harness's own (never a target of the faults); the caller ends it. */
  async connect(database: string): Promise<pg.Client> {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: this.port,
      user: PG_USER,
      password: PG_PASSWORD,
      database,
      application_name: HARNESS_APPLICATION_NAME,
      connectionTimeoutMillis: 10_000,
    });
    // A session ended by a restart must not crash the harness; its next query fails instead.
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  async query<R extends pg.QueryResultRow = Record<string, unknown>>(database: string, text: string, values: unknown[] = []): Promise<R[]> {
    const client = await this.connect(database);
    try {
      return (await client.query<R>(text, values)).rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private pgCtl(args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(join(this.bin, 'pg_ctl'), args, { ...this.spawnOptions(), stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('error', reject);
      child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`pg_ctl ${args[0]} failed (${code}): ${output.trim()}`))));
    });
  }

  /** pg_ctl runs as the owner of the data folder (user `postgres` when the harness runs as root). */
  private spawnOptions(): SpawnOptions {
    const owner = userInfo().uid === 0 ? statSync(this.dataDir) : undefined;
    return { cwd: tmpdir(), env: { ...process.env, LC_ALL: 'C' }, uid: owner?.uid, gid: owner?.gid };
  }
}

/** The embedded binaries, found as the runtime finds them (startEmbeddedPostgres has restored their links). */
function binaryFolder(): string {
  const require = createRequire(import.meta.url);
  const entry = createRequire(require.resolve('embedded-postgres')).resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
  return join(dirname(entry), '..', 'native', 'bin');
}

