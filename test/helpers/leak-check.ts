/**
 * Fails a test file that leaves open what it opened: OperonRuntime instances not destroyed, pg
 * pools not ended and pg clients not closed, servers still listening, child processes still
 * running. A leak is a bug of the test (or of the code under test) that the next file pays for:
 * a runtime left running keeps recovering workflows and holding connections against the shared
 * Postgres, a child process outlives the run. graphile-worker's test helpers do the same for pools.
 *
 * Registered as a vitest setupFile, so it runs in every test file's module graph before the file:
 * it wraps the constructors' entry points (it cannot see inside the runtime, and need not), notes
 * what each opened and in which test, and after the file's own `afterAll` hooks (setup-file hooks
 * are registered first, and vitest runs `after` hooks as a stack) lists what is still open. It then
 * closes what leaked, so one file's leak does not hold the worker up, and throws.
 */
import { ChildProcess } from 'node:child_process';
import { Server } from 'node:net';
import { relative } from 'node:path';
import pg from 'pg';
import { afterAll, expect } from 'vitest';
import type { OperonRuntime } from '../../packages/runtime/src/runtime.js';

const root = new URL('../../', import.meta.url).pathname;
/** How long to wait for what is already closing (an `end()` or `kill()` not awaited) to finish. */
const CLOSING_GRACE_MS = 3_000;

/** Where in the test code a resource was opened: the test's name and the first frame under test/. */
function openedWhere(): string {
  const test = expect.getState().currentTestName;
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 60;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  const frames = stack
    .split('\n')
    .slice(1)
    .map((line) => /(?:\(|at )(?:file:\/\/)?(\/[^()\s]+?:\d+):\d+\)?$/.exec(line.trim())?.[1])
    .filter((path): path is string => path !== undefined && path.includes('/test/') && !path.includes('/test/helpers/leak-check.ts'))
    .map((path) => relative(root, path));
  // The line of the test file itself, and the helper it called if the resource was opened there.
  const testFrame = frames.find((path) => /\.test\.ts:/.test(path));
  const place =
    testFrame && frames[0] !== testFrame ? `${testFrame} (through ${frames[0]})` : (testFrame ?? frames[0] ?? 'an unknown place');
  return `${test ? `in test "${test}"` : 'outside any test (in a hook or the file body)'} at ${place}`;
}

/** Each resource opened in this file, with where it was opened (the test and the line). */
type Opened<T> = Map<T, string>;

function track<T>(opened: Opened<T>, resource: T): void {
  if (!opened.has(resource)) opened.set(resource, openedWhere());
}

const runtimes: Opened<OperonRuntime> = new Map();
const pools: Opened<pg.Pool> = new Map();
const clients: Opened<pg.Client> = new Map();
const servers: Opened<Server> = new Map();
const children: Opened<ChildProcess> = new Map();

// OperonRuntime: every runtime a test makes (directly, through the testing runtime or the CLI's
// code) is made by `create`. It is done when its state is 'stopped'. A runtime that does not even
// load fails every file that uses it on its own; files that do not are still checked for the rest.
const runtimeModule = await import('../../packages/runtime/src/runtime.js').catch(() => undefined);
if (runtimeModule) {
  const { OperonRuntime: Runtime } = runtimeModule;
  if (typeof Runtime.create !== 'function') throw new Error('leak-check: OperonRuntime.create is gone; update test/helpers/leak-check.ts');
  const create = Runtime.create.bind(Runtime);
  Runtime.create = async (...args: Parameters<typeof Runtime.create>) => {
    const runtime = await create(...args);
    track(runtimes, runtime);
    return runtime;
  };
}

// pg: a pool is seen at its first connect (every query goes through it), a client at connect.
interface PoolInternals {
  ending: boolean;
  ended: boolean;
  _clients: pg.Client[];
  options: pg.PoolConfig;
}
interface ClientInternals {
  _ending: boolean;
  _ended: boolean;
  connection?: { stream?: { destroyed?: boolean } };
  database?: string;
  connectionParameters?: { application_name?: string };
}
const poolPrototype = Object.getPrototypeOf(pg.Pool.prototype) as { connect: (...args: unknown[]) => unknown };
const poolConnect = poolPrototype.connect;
poolPrototype.connect = function (this: pg.Pool, ...args: unknown[]) {
  track(pools, this);
  return poolConnect.apply(this, args);
};
const clientPrototype = pg.Client.prototype as unknown as { connect: (...args: unknown[]) => unknown };
const clientConnect = clientPrototype.connect;
clientPrototype.connect = function (this: pg.Client, ...args: unknown[]) {
  track(clients, this);
  return clientConnect.apply(this, args);
};

// Servers (http, Fastify, net) all listen through net.Server; children all spawn through
// ChildProcess.prototype.spawn (spawn, fork, exec, execFile).
const listen = Server.prototype.listen as (...args: unknown[]) => Server;
Server.prototype.listen = function (this: Server, ...args: unknown[]) {
  track(servers, this);
  return listen.apply(this, args);
} as typeof Server.prototype.listen;
const spawn = (ChildProcess.prototype as unknown as { spawn: (...args: unknown[]) => unknown }).spawn;
(ChildProcess.prototype as unknown as { spawn: (...args: unknown[]) => unknown }).spawn = function (this: ChildProcess, ...args: unknown[]) {
  track(children, this);
  return spawn.apply(this, args);
};

function clientIsOpen(client: pg.Client): boolean {
  const c = client as unknown as ClientInternals;
  return !c._ended && c.connection?.stream?.destroyed !== true;
}

const childIsRunning = (child: ChildProcess): boolean => child.pid !== undefined && child.exitCode === null && child.signalCode === null;

interface Leak {
  /** Already closing (an `end()`, `destroy()` or `kill()` not awaited): given a grace period. */
  readonly closing: boolean;
  readonly description: string;
  readonly close: () => Promise<unknown>;
}

function openRuntimes(): Leak[] {
  return [...runtimes].flatMap(([runtime, where]) =>
    runtime.state === 'stopped'
      ? []
      : [{
          closing: runtime.state === 'stopping',
          description: `OperonRuntime on ${runtime.config.database.system_database} (state ${runtime.state}) not destroyed, created ${where}`,
          close: () => runtime.destroy({ timeoutMs: 1_000 }),
        }],
  );
}

/** Pools, clients, servers and children still open; a pool's own clients count as the pool. */
function openOthers(): Leak[] {
  const leaks: Leak[] = [];
  const pooled = new Set<pg.Client>();
  for (const [pool, where] of pools) {
    const p = pool as unknown as PoolInternals;
    for (const client of p._clients) pooled.add(client);
    if (p.ended) continue;
    leaks.push({
      closing: p.ending,
      description: `pg pool on database ${p.options.database ?? '?'} (${p._clients.length} clients) not ended, first used ${where}`,
      close: () => pool.end(),
    });
  }
  for (const [client, where] of clients) {
    if (pooled.has(client) || !clientIsOpen(client)) continue;
    const c = client as unknown as ClientInternals;
    const app = c.connectionParameters?.application_name;
    leaks.push({
      closing: c._ending,
      description: `pg client on database ${c.database ?? '?'}${app ? ` (${app})` : ''} not ended, connected ${where}`,
      close: () => client.end(),
    });
  }
  for (const [server, where] of servers) {
    if (!server.listening) continue;
    const address = server.address();
    const at = typeof address === 'string' ? address : address ? `${address.address}:${address.port}` : '?';
    leaks.push({
      closing: false,
      description: `server listening on ${at} not closed, opened ${where}`,
      close: () => new Promise((resolve) => server.close(resolve)),
    });
  }
  for (const [child, where] of children) {
    if (!childIsRunning(child)) continue;
    const command = [child.spawnfile, ...child.spawnargs.slice(1)].join(' ');
    leaks.push({
      closing: child.killed,
      description: `child process ${child.pid} (${command.length > 160 ? `${command.slice(0, 160)}…` : command}) still running, started ${where}`,
      close: async () => child.kill('SIGKILL'),
    });
  }
  return leaks;
}

/** What `find` still reports once whatever is already closing has had its grace period. */
async function afterGrace(find: () => Leak[]): Promise<Leak[]> {
  const deadline = Date.now() + CLOSING_GRACE_MS;
  let leaks = find();
  while (leaks.some((leak) => leak.closing) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    leaks = find();
  }
  return leaks;
}

/** Closes each leak, each bounded, so a leak fails its own file and does not hold the worker up. */
async function closeAll(leaks: Leak[]): Promise<void> {
  for (const leak of leaks) {
    await Promise.race([leak.close().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 3_000).unref())]);
  }
}

afterAll(async () => {
  // A leaked runtime owns pools, clients and perhaps servers: close it first, and report as
  // separate leaks only what is still open after it.
  const leakedRuntimes = await afterGrace(openRuntimes);
  await closeAll(leakedRuntimes);
  const leakedOthers = await afterGrace(openOthers);
  await closeAll(leakedOthers);
  const leaks = [...leakedRuntimes, ...leakedOthers];
  if (leaks.length === 0) return;
  throw new Error(
    `this test file left ${leaks.length} resource${leaks.length === 1 ? '' : 's'} open; close each in the test or in an afterEach/afterAll:\n` +
      leaks.map((leak) => `  - ${leak.description}`).join('\n'),
  );
});
