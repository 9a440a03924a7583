/**
 * The CLI end to end, as a new user meets it: `operon init` in an empty folder, `npm install`,
 * `operon build`, `operon migrate`, `operon start` as a real process on the embedded Postgres,
 * real HTTP requests, a SIGKILL in the middle of a workflow, a restart that finishes it, and the
 * scaffolded app's own tests (beside the running server, whose data they leave as it was). Needs the packages built (`pnpm test` builds them first).
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/global-setup.js';
import {
  REPO,
  assertCliBuilt,
  cleanEnv,
  expectOneLineError,
  operon,
  run,
  spawnServer,
  stopEmbeddedPostgres,
  type Server,
} from './cli-process.js';

/**
 * Added to the scaffolded app: a workflow whose communicator logs each run to `probe.log`, then
 * waits until the file `probe.gate` exists, so the test can kill the server inside the workflow.
 */
const CRASH_PROBE = `
import { appendFileSync, existsSync } from 'node:fs';

export class CrashProbe {
  @Workflow()
  static async slowGreet(ctx: WorkflowContext, name: string): Promise<string> {
    const count = await ctx.invoke(Greetings).recordGreeting(name);
    await ctx.invoke(CrashProbe).waitForGate(name);
    return \`\${name} was greeted \${count} time(s), then passed the gate\`;
  }

  @Communicator()
  static async waitForGate(_ctx: CommunicatorContext, name: string): Promise<void> {
    appendFileSync('probe.log', \`\${name}\\n\`);
    while (!existsSync('probe.gate')) await new Promise((resolve) => setTimeout(resolve, 50));
  }

  @GetApi('/slow-greeting/:name')
  static async slowGreeting(ctx: HandlerContext, name: string): Promise<string> {
    const handle = await ctx.invoke(CrashProbe).slowGreet(name);
    return handle.getResult();
  }
}
`;

let dir: string;
let app: string;
let env: NodeJS.ProcessEnv;
let pgPort: number;
let httpPort: number;
const servers: Server[] = [];

const bin = (): string => join(app, 'node_modules', '.bin', 'operon');

function startServer(): Server {
  const server = spawnServer(bin(), ['start', '-p', String(httpPort)], { cwd: app, env });
  servers.push(server);
  return server;
}

async function query<R = Record<string, unknown>>(database: string, sql: string, params: unknown[] = []): Promise<R[]> {
  // The embedded Postgres's own random password, as `operon` made it at the cluster's first start.
  const password = readFileSync(join(app, '.operon', 'pgpassword'), 'utf8').trim();
  const client = new pg.Client({ host: '127.0.0.1', port: pgPort, user: 'postgres', password, database });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as R[];
  } finally {
    await client.end();
  }
}

const greetingsOf = async (name: string): Promise<number> =>
  (await query<{ n: number }>('demo', 'SELECT count(*)::int AS n FROM greetings WHERE name = $1', [name]))[0]!.n;
const probeRuns = (): string[] => (existsSync(join(app, 'probe.log')) ? readFileSync(join(app, 'probe.log'), 'utf8').trim().split('\n') : []);

function get(path: string, workflowUUID?: string, signal?: AbortSignal): Promise<Response> {
  return fetch(`http://127.0.0.1:${httpPort}${path}`, { headers: workflowUUID ? { 'operon-workflowuuid': workflowUUID } : {}, signal });
}

beforeAll(async () => {
  assertCliBuilt();
  dir = mkdtempSync(join(tmpdir(), 'operon-cli-e2e-'));
  // The embedded Postgres runs as user `postgres` under root: it must reach the app folder.
  chmodSync(dir, 0o755);
  app = join(dir, 'demo');
  pgPort = await freePort();
  httpPort = await freePort();
  // PGPORT moves the embedded Postgres off 5432, as the config docs say.
  env = cleanEnv({ PGPORT: String(pgPort) });
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.kill('SIGKILL')));
  if (app) await stopEmbeddedPostgres(app);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a new app, from operon init to a crash and its recovery', () => {
  it('scaffolds the hello template with the app name filled in', async () => {
    const result = await operon(['init', 'demo'], { cwd: dir, env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('created demo from the hello template');

    const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
    expect(manifest.name).toBe('demo');
    // Inside this repository the app runs the packages being developed.
    expect(manifest.dependencies['@operon/sdk']).toBe(`file:${join(REPO, 'packages/sdk')}`);
    expect(manifest.dependencies['@operon/runtime']).toBe(`file:${join(REPO, 'packages/runtime')}`);
    expect(manifest.dependencies['@operon/cli']).toBe(`file:${join(REPO, 'packages/cli')}`);
    const config = readFileSync(join(app, 'operon-config.yaml'), 'utf8');
    expect(config).toMatch(/^\s+user_database: demo$/m);
    expect(config).toMatch(/^\s+system_database: demo_operon_sys$/m);
    expect(readFileSync(join(app, '.gitignore'), 'utf8')).toMatch(/node_modules/);
    expect(existsSync(join(app, '_gitignore'))).toBe(false);
    expect(readFileSync(join(app, 'README.md'), 'utf8')).toMatch(/^# demo\n/);
  });

  it('refuses to scaffold into a folder that is not empty', async () => {
    expectOneLineError(await operon(['init', 'demo'], { cwd: dir, env }), 1, /^demo is not empty .*choose a new folder name/);
  });

  it('installs with npm', async () => {
    const result = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], {
      cwd: app,
      env,
      timeoutMs: 240_000,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(existsSync(bin())).toBe(true);
    // The crash probe goes into the app's own module, as a user would add an operation.
    appendFileSync(join(app, 'src', 'operations.ts'), CRASH_PROBE);
  }, 250_000);

  it('builds the bundle', async () => {
    const result = await run(bin(), ['build'], { cwd: app, env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^built dist\/operations\.js \(/);
    expect(existsSync(join(app, 'dist', 'operations.js'))).toBe(true);
    expect(existsSync(join(app, 'dist', 'operations.js.map'))).toBe(true);
  });

  it('migrates, on the embedded Postgres it starts and stops again', async () => {
    const result = await run(bin(), ['migrate'], { cwd: app, env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('applied migration 001_create_greetings.sql');
    expect(existsSync(join(app, '.operon', 'pgdata', 'PG_VERSION'))).toBe(true);
    // migrate started the server, so it stopped it.
    expect(existsSync(join(app, '.operon', 'pgdata', 'postmaster.pid'))).toBe(false);

    const again = await run(bin(), ['migrate'], { cwd: app, env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).not.toContain('applied migration');
  });

  it('serves the handler over HTTP, once per workflow UUID', async () => {
    const server = startServer();
    await server.waitFor(new RegExp(`operon: serving on http://127\\.0\\.0\\.1:${httpPort}`));
    expect(server.output()).toContain('recovered 0 pending workflows');

    const health = await get('/operon/health');
    expect(health.status).toBe(200);

    const uuid = randomUUID();
    const first = await get('/greeting/ada', uuid);
    expect(first.status).toBe(200);
    expect(first.headers.get('operon-workflowuuid')).toBe(uuid);
    expect(await first.text()).toBe('Hello, ada! You have been greeted 1 time.');
    const again = await get('/greeting/ada', uuid);
    expect(await again.text()).toBe('Hello, ada! You have been greeted 1 time.');
    const other = await get('/greeting/ada');
    expect(await other.text()).toBe('Hello, ada! You have been greeted 2 times.');
    expect(await greetingsOf('ada')).toBe(2);
    expect((await get('/no/such/route')).status).toBe(404);

    const names = await query<{ workflow_name: string }>('demo_operon_sys', 'SELECT workflow_name FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]);
    expect(names).toEqual([{ workflow_name: 'Greetings.greet' }]);
  });

  it('refuses a second operon start on the same port, leaving the first one serving', async () => {
    const second = await run(bin(), ['start', '-p', String(httpPort)], { cwd: app, env });
    expectOneLineError(second, 1, new RegExp(`^port ${httpPort} is in use \\(is another \`operon start\` running for this app\\?\\)`));
    expect((await get('/operon/health')).status).toBe(200);
  });

  it('finishes a workflow cut off by SIGKILL on the next start, running nothing twice', async () => {
    const [server] = servers;
    const uuid = randomUUID();
    const aborter = new AbortController();
    const inFlight = get('/slow-greeting/bob', uuid, aborter.signal).catch(() => undefined);
    // The transaction has committed and the communicator is running: kill the server there.
    for (let i = 0; i < 600 && probeRuns().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(probeRuns()).toEqual(['bob']);
    expect(await server!.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    aborter.abort();
    await inFlight;
    expect(await greetingsOf('bob')).toBe(1);

    writeFileSync(join(app, 'probe.gate'), '');
    const restarted = startServer();
    await restarted.waitFor(/operon: serving on/);
    expect(restarted.output()).toContain('recovered 1 pending workflows');

    const expected = 'bob was greeted 1 time(s), then passed the gate';
    const result = await get('/slow-greeting/bob', uuid);
    expect(result.status).toBe(200);
    expect(await result.text()).toBe(expected);
    // The communicator never completed before the kill, so it ran once more; the transaction did not.
    expect(probeRuns()).toEqual(['bob', 'bob']);
    expect(await greetingsOf('bob')).toBe(1);

    const again = await get('/slow-greeting/bob', uuid);
    expect(await again.text()).toBe(expected);
    expect(again.headers.get('operon-workflowuuid')).toBe(uuid);
    expect(probeRuns()).toEqual(['bob', 'bob']);
    expect(await greetingsOf('bob')).toBe(1);
    const status = await query<{ status: string }>('demo_operon_sys', 'SELECT status FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]);
    expect(status).toEqual([{ status: 'SUCCESS' }]);
  });

  it("runs the app's own tests beside the running server, changing none of the data it serves", async () => {
    const served = async () => ({
      greetings: await query('demo', 'SELECT id, name FROM greetings ORDER BY id'),
      workflows: await query('demo_operon_sys', 'SELECT workflow_uuid, status, output FROM operon.workflow_status ORDER BY workflow_uuid'),
    });
    const before = await served();
    expect(before.greetings.length).toBeGreaterThan(0);
    // The tests write greetings and workflows of their own, crash and recover their runtime.
    const tests = await run(join(app, 'node_modules', '.bin', 'vitest'), ['run'], { cwd: app, env, timeoutMs: 90_000 });
    expect(tests.code, `${tests.stdout}\n${tests.stderr}`).toBe(0);
    expect(await served()).toEqual(before);
    // The server never noticed: it goes on serving from its own data.
    const response = await get('/greeting/bob');
    expect(await response.text()).toBe('Hello, bob! You have been greeted 2 times.');
  }, 120_000);

  it('on SIGTERM, finishes the request in flight, then stops the embedded Postgres and exits 0', async () => {
    const server = servers[1]!;
    rmSync(join(app, 'probe.gate'));
    const inFlight = get('/slow-greeting/carol');
    for (let i = 0; i < 600 && !probeRuns().includes('carol'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(probeRuns()).toContain('carol');

    const exited = server.kill('SIGTERM');
    await server.waitFor(/operon: SIGTERM received, stopping/);
    // No new connections once stopping; the request already in flight goes on.
    const late = await get('/operon/health').then((response) => response.status, () => 'refused');
    expect([503, 'refused']).toContain(late);
    writeFileSync(join(app, 'probe.gate'), '');
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('carol was greeted 1 time(s), then passed the gate');

    expect(await exited).toEqual({ code: 0, signal: null });
    expect(server.output()).toContain('operon: stopped');
    expect(existsSync(join(app, '.operon', 'pgdata', 'postmaster.pid'))).toBe(false);
  });

  it("passes the scaffolded app's own tests and type-checks", async () => {
    const tests = await run(join(app, 'node_modules', '.bin', 'vitest'), ['run'], { cwd: app, env, timeoutMs: 90_000 });
    expect(tests.code, `${tests.stdout}\n${tests.stderr}`).toBe(0);
    expect(tests.stdout).toMatch(/Tests\s+4 passed/);
    const types = await run(join(app, 'node_modules', '.bin', 'tsc'), ['--noEmit'], { cwd: app, env });
    expect(types.code, types.stdout).toBe(0);
  }, 120_000);
});
