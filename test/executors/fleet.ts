/**
 * A fleet of real `operon start` processes serving test/executors/app from one app folder, on the
 * test Postgres of the global setup (two fresh databases per folder). The folder is built and
 * migrated once with the real CLI; each process gets its own HTTP port and, if asked, an explicit
 * OPERON_EXECUTOR_ID. Tests signal the processes themselves (SIGKILL, SIGSTOP, SIGCONT, SIGTERM).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_MAIN, REPO, cleanEnv, operonOrThrow, runOperon } from '../chaos/operon-cli.js';
import { spawnServer, type Server } from '../cli/cli-process.js';
import { freePort } from '../helpers/global-setup.js';
import { query, testConfigInput } from '../helpers/test-databases.js';

export interface FleetApp {
  readonly dir: string;
  readonly configFile: string;
  readonly sideLog: string;
  /** The file whose existence opens the gated communicators and transactions. */
  readonly gate: string;
  readonly appDatabase: string;
  readonly systemDatabase: string;
  remove(): void;
}

export interface FleetProcess {
  readonly server: Server;
  readonly pid: number;
  readonly port: number;
  readonly baseUrl: string;
  /** Every line the process printed so far. */
  output(): string;
  signal(signal: NodeJS.Signals): void;
}

/**
 * Builds and migrates the app in a temp folder, as a user would with `operon build` and `operon
 * migrate`; `appFolder` (under the repository) holds its `src` and, if it has one, `migrations`.
 */
export async function prepareFleetApp(prefix: string, runtimeConfig: Record<string, unknown> = {}, appFolder = 'test/executors/app'): Promise<FleetApp> {
  const dir = mkdtempSync(join(tmpdir(), `operon-${prefix}-`));
  for (const part of ['src', 'migrations']) {
    if (existsSync(join(REPO, appFolder, part))) cpSync(join(REPO, appFolder, part), join(dir, part), { recursive: true });
  }
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'fleet-app', private: true, type: 'module' }, null, 2)}\n`);
  // The bundle keeps packages external, as `operon build` always does: link the SDK it imports.
  mkdirSync(join(dir, 'node_modules', '@operon'), { recursive: true });
  symlinkSync(join(REPO, 'packages/sdk'), join(dir, 'node_modules', '@operon', 'sdk'), 'dir');
  const sideLog = join(dir, 'side-log.jsonl');
  writeFileSync(sideLog, '');
  const gate = join(dir, 'gate');
  const input = testConfigInput(prefix);
  const config = {
    database: { ...input.database, connectionTimeoutMillis: 3000, poolSize: 10 },
    runtimeConfig: { host: '127.0.0.1', entrypoint: 'dist/operations.js', ...runtimeConfig },
    telemetry: { logs: { logLevel: 'info' } },
    application: { sideLog, gate },
  };
  const configFile = join(dir, 'operon-config.yaml');
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  await operonOrThrow(['build', '-c', configFile], { cwd: dir });
  await operonOrThrow(['migrate', '-c', configFile], { cwd: dir, timeoutMs: 60_000 });
  return {
    dir,
    configFile,
    sideLog,
    gate,
    appDatabase: input.database.user_database,
    systemDatabase: input.database.system_database,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Another config file for the app, with `database` merged in (a proxy's port, say) and
 * `runtimeConfig` (a short lease for the one process a test pauses, say); its path.
 */
export function configVariant(app: FleetApp, name: string, database: Record<string, unknown>, runtimeConfig: Record<string, unknown> = {}): string {
  const config = JSON.parse(readFileSync(app.configFile, 'utf8'));
  const file = join(app.dir, `operon-config.${name}.yaml`);
  const variant = { ...config, database: { ...config.database, ...database }, runtimeConfig: { ...config.runtimeConfig, ...runtimeConfig } };
  writeFileSync(file, `${JSON.stringify(variant, null, 2)}\n`);
  return file;
}

/** A config file for the process a test pauses or holds: its lease `leaseMs` (its beat a third of it), the others' unchanged. */
export const shortLeaseConfig = (app: FleetApp, leaseMs: number): string => configVariant(app, `lease-${leaseMs}`, {}, { leaseMs });

export interface ExecutorOptions {
  readonly executorId?: string;
  readonly port?: number;
  /** Another config file (see configVariant). */
  readonly configFile?: string;
  /** Extra environment (NODE_OPTIONS, say). */
  readonly env?: Record<string, string>;
  /** Runs `operon start` under this command and its arguments (`unshare --pid --fork`, say). */
  readonly wrapper?: readonly string[];
}

/** Spawns `operon start` (not waiting for it to serve). */
export async function spawnExecutor(app: FleetApp, options: ExecutorOptions = {}): Promise<FleetProcess> {
  const port = options.port ?? (await freePort());
  const env = cleanEnv({ ...(options.executorId === undefined ? {} : { OPERON_EXECUTOR_ID: options.executorId }), ...options.env });
  const args = [CLI_MAIN, 'start', '-c', options.configFile ?? app.configFile, '-p', String(port)];
  const [command, ...prefix] = options.wrapper ?? [];
  const server = command === undefined
    ? spawnServer(process.execPath, args, { cwd: app.dir, env })
    : spawnServer(command, [...prefix, process.execPath, ...args], { cwd: app.dir, env });
  return {
    server,
    pid: server.child.pid!,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    output: () => server.output(),
    signal: (signal) => {
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill(signal);
    },
  };
}

/** Spawns `operon start` and waits until it serves. */
export async function startExecutor(app: FleetApp, options: ExecutorOptions = {}): Promise<FleetProcess> {
  const executor = await spawnExecutor(app, options);
  await executor.server.waitFor(/operon: serving on/, 60_000);
  return executor;
}

/** SIGKILLs (after SIGCONT, so a paused one dies too) every process still running, and waits for them. */
export async function killAll(executors: readonly FleetProcess[]): Promise<void> {
  for (const executor of executors) executor.signal('SIGCONT');
  await Promise.all(executors.map((executor) => executor.server.kill('SIGKILL')));
}

/** Starts `count` workflows of `name` on `executor`; their UUIDs. */
export async function startWorkflows(executor: FleetProcess, name: string, count: number, args: unknown[]): Promise<string[]> {
  const response = await fetch(`${executor.baseUrl}/start`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, count, args }),
  });
  if (response.status !== 200) throw new Error(`POST /start ${name} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as string[];
}

export async function post(executor: FleetProcess, path: string, body: unknown): Promise<Response> {
  return fetch(`${executor.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

export interface SideEvent {
  readonly ev: 'start' | 'done' | 'caught' | 'locked' | 'received' | 'sending';
  readonly uuid: string;
  readonly step: number;
  readonly pid: number;
  readonly t: number;
  readonly message?: unknown;
  readonly error?: string;
}

export function sideEvents(app: FleetApp): SideEvent[] {
  if (!existsSync(app.sideLog)) return [];
  return readFileSync(app.sideLog, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as SideEvent);
}

export const sys = <R = any>(app: FleetApp, sql: string, values: unknown[] = []): Promise<R[]> => query<R>(app.systemDatabase, sql, values);
export const appDb = <R = any>(app: FleetApp, sql: string, values: unknown[] = []): Promise<R[]> => query<R>(app.appDatabase, sql, values);

/** Workflow statuses of `uuids`, counted by status. */
export async function statusCounts(app: FleetApp, uuids: readonly string[]): Promise<Record<string, number>> {
  const rows = await sys<{ status: string; n: number }>(
    app,
    'SELECT status, count(*)::int AS n FROM operon.workflow_status WHERE workflow_uuid = ANY($1) GROUP BY status',
    [uuids],
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** Polls `check` every `everyMs` until it returns true or `timeoutMs` passes; returns whether it did. */
export async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= giveUpAt) return false;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Resolves once every one of `uuids` ended (SUCCESS or ERROR), or after `timeoutMs`; returns whether they did. */
export function allEnded(app: FleetApp, uuids: readonly string[], timeoutMs: number): Promise<boolean> {
  return waitUntil(async () => {
    const counts = await statusCounts(app, uuids);
    return (counts.SUCCESS ?? 0) + (counts.ERROR ?? 0) === uuids.length;
  }, timeoutMs, 250);
}

/** The executor instance (fencing token) registered by the process `pid`, once it registered. */
export async function instanceOf(app: FleetApp, pid: number): Promise<string> {
  const rows = await sys<{ instance_id: string }>(app, `SELECT instance_id FROM operon.executors WHERE pid = $1 ORDER BY started_at DESC LIMIT 1`, [pid]);
  if (!rows[0]) throw new Error(`no executor registered by pid ${pid}`);
  return rows[0].instance_id;
}

/**
 * Sets the lease of live `instances` to `ms`, as their registration would have: the database
 * judges every lease by the lease_ms its executor registered, so a test can make a lease that must
 * not lapse (a racer paused on purpose, a killed process whose own restart must take its work before
 * anyone else could) outlast the slowest the shared machine can be, and a lapse then means a bug.
 */
export async function setLease(app: FleetApp, instances: readonly string[], ms: number): Promise<void> {
  const rows = await sys(app, `UPDATE operon.executors SET lease_ms = $2 WHERE instance_id = ANY($1) AND state = 'live' RETURNING 1`, [instances, ms]);
  if (rows.length !== instances.length) throw new Error(`only ${rows.length} of ${instances.length} instances were live to set their lease`);
}

/** The last heartbeat (epoch ms, database clock) of an instance. */
export async function lastHeartbeat(app: FleetApp, instanceId: string): Promise<number> {
  const rows = await sys<{ ms: string }>(app, `SELECT (extract(epoch FROM heartbeat_at) * 1000)::bigint AS ms FROM operon.executors WHERE instance_id = $1`, [instanceId]);
  return Number(rows[0]!.ms);
}

/** p-th percentile (nearest rank) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export { runOperon };

/** The lease (ms) an instance registered, as the database judges it. */
export async function registeredLease(app: FleetApp, instanceId: string): Promise<number> {
  const rows = await sys<{ lease_ms: number }>(app, `SELECT lease_ms FROM operon.executors WHERE instance_id = $1`, [instanceId]);
  if (!rows[0]) throw new Error(`no executor instance ${instanceId}`);
  return Number(rows[0].lease_ms);
}
