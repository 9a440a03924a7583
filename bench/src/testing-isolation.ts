/**
 * `pnpm bench:isolation [--tests N] [--clone-tests M]`: what per-test isolation costs an app's test
 * suite. The hello template's app and migration, in a folder of its own, with a vitest file of N
 * workflow tests in the shape of the template's own (half greet over HTTP, half greet a day later
 * on the virtual clock), every one of them greeting the same visitor for the first time, so that
 * each passes only if it sees nothing of the tests before it. Run by vitest three ways, one after
 * the other, on one embedded Postgres:
 *
 * - reset: one testing runtime for the file, `reset()` before each test (N tests);
 * - clone: a fresh testing runtime (fresh copies of the template databases) for each test (M tests,
 *   fewer: each costs seconds);
 * - shared: one testing runtime and no isolation at all, each test greeting a visitor of its own
 *   (N tests): the floor, what the tests cost without any isolation.
 *
 * Each figure is the tests' own time (from the first test's setup to the last test's end, the one
 * testing runtime start of reset and shared left out; clone's every start counted), and beside it the
 * whole vitest run's wall time. Progress goes to stderr; the table and `ISOLATION-JSON {...}` to stdout.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { startBenchServer, type BenchServer } from './bench-server.js';
import { progressLog } from './script-cli.js';

const log = progressLog('isolation');

type Mode = 'reset' | 'clone' | 'shared';

interface Options {
  readonly tests: number;
  readonly cloneTests: number;
}

function parse(argv: readonly string[]): Options {
  let tests = 100;
  let cloneTests = 10;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    const value = Number(argv[++i]);
    const valid = Number.isInteger(value) && value > 0;
    if (arg === '--tests' && valid) tests = value;
    else if (arg === '--clone-tests' && valid) cloneTests = value;
    else throw new Error(`usage: bench:isolation [--tests N] [--clone-tests M] (positive integers); got ${arg} ${argv[i] ?? ''}`);
  }
  return { tests, cloneTests };
}

const benchDir = fileURLToPath(new URL('..', import.meta.url));
const templateDir = join(benchDir, '..', 'templates', 'hello');

/** The test file: one per run, the mode and count from the environment. */
const TEST_FILE = `import { writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { Greetings } from './operations.js';

const mode = process.env.ISOLATION_MODE;
const tests = Number(process.env.ISOLATION_TESTS);
const create = () => createTestingRuntime([Greetings], 'operon-config.yaml', { clock: 'virtual' });
let testRuntime: TestingRuntime | undefined;
let began = 0;
let startMs = 0;

beforeAll(async () => {
  began = performance.now();
  if (mode !== 'clone') {
    testRuntime = await create();
    startMs = performance.now() - began;
    began = performance.now();
  }
});

beforeEach(async () => {
  if (mode === 'clone') testRuntime = await create();
  else if (mode === 'reset') await testRuntime!.reset();
});

afterEach(async () => {
  if (mode === 'clone') await testRuntime!.destroy();
});

afterAll(async () => {
  const ms = performance.now() - began;
  if (mode !== 'clone') await testRuntime?.destroy();
  writeFileSync(process.env.ISOLATION_RESULT!, JSON.stringify({ ms, startMs }));
});

for (let i = 0; i < tests; i++) {
  // Isolated, every test greets the same visitor, for the first time; shared, each its own.
  const name = mode === 'shared' ? \`visitor-\${i}\` : 'visitor';
  if (i % 2 === 0) {
    it(\`greets over HTTP (\${i})\`, async () => {
      const res = await testRuntime!.inject({ method: 'GET', url: \`/greeting/\${name}\` });
      expect(res.body).toBe(\`Hello, \${name}! You have been greeted 1 time.\`);
    });
  } else {
    it(\`greets again a day later (\${i})\`, async () => {
      const handle = await testRuntime!.invoke(Greetings, mode === 'shared' ? \`tomorrow-\${i}\` : 'tomorrow').greetTomorrow(name);
      await testRuntime!.advance('24h');
      expect(await handle.getResult()).toBe(\`Hello again, \${name}! You have been greeted 1 time.\`);
    });
  }
}
`;

/** The hello app in a folder under bench/ (so that it resolves @operon/* and vitest as an app would), on `server`. */
function makeApp(server: BenchServer): string {
  const dir = mkdtempSync(join(benchDir, '.isolation-app-'));
  mkdirSync(join(dir, 'src'));
  mkdirSync(join(dir, 'migrations'));
  copyFileSync(join(templateDir, 'src', 'operations.ts'), join(dir, 'src', 'operations.ts'));
  copyFileSync(join(templateDir, 'migrations', '001_create_greetings.sql'), join(dir, 'migrations', '001_create_greetings.sql'));
  copyFileSync(join(templateDir, 'vitest.config.ts'), join(dir, 'vitest.config.ts'));
  copyFileSync(join(templateDir, 'tsconfig.json'), join(dir, 'tsconfig.json'));
  writeFileSync(join(dir, 'src', 'isolation.test.ts'), TEST_FILE);
  writeFileSync(
    join(dir, 'operon-config.yaml'),
    [
      'database:',
      `  hostname: ${server.host}`,
      `  port: ${server.port}`,
      `  username: ${server.user}`,
      `  password: ${server.password}`,
      '  user_database: hello',
      '  system_database: hello_operon_sys',
      'telemetry:',
      '  logs: { logLevel: warn }',
      '',
    ].join('\n'),
  );
  return dir;
}

interface Run {
  readonly mode: Mode;
  readonly tests: number;
  /** The tests' own time, ms. */
  readonly ms: number;
  /** The one testing runtime start of reset and shared (0 for clone, whose starts are in ms). */
  readonly startMs: number;
  /** The whole vitest process, ms. */
  readonly wallMs: number;
}

async function runVitest(dir: string, mode: Mode, tests: number): Promise<Run> {
  const vitest = join(createRequire(import.meta.url).resolve('vitest/package.json'), '..', 'vitest.mjs');
  const result = join(dir, `result-${mode}.json`);
  const began = performance.now();
  const output: Buffer[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [vitest, 'run', '--reporter=dot'], {
      cwd: dir,
      env: { ...process.env, ISOLATION_MODE: mode, ISOLATION_TESTS: String(tests), ISOLATION_RESULT: result },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
    child.once('error', reject);
    child.once('exit', resolve);
  });
  const wallMs = performance.now() - began;
  if (code !== 0) throw new Error(`vitest (${mode}) failed with exit code ${code}:\n${Buffer.concat(output).toString()}`);
  const { ms, startMs } = JSON.parse(readFileSync(result, 'utf8')) as { ms: number; startMs: number };
  return { mode, tests, ms, startMs, wallMs };
}

const options = parse(process.argv.slice(2));
const server = await startBenchServer(log);
const dir = makeApp(server);
const runs: Run[] = [];
try {
  for (const [mode, tests] of [['reset', options.tests], ['clone', options.cloneTests], ['shared', options.tests]] as const) {
    log(`vitest: ${tests} tests, ${mode}`);
    const run = await runVitest(dir, mode, tests);
    log(`${mode}: ${(run.ms / 1000).toFixed(2)} s for ${tests} tests (${(run.ms / tests).toFixed(1)} ms each), vitest ${(run.wallMs / 1000).toFixed(1)} s`);
    runs.push(run);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  await server.stop();
}

const perTest = (run: Run) => run.ms / run.tests;
const [reset, clone, shared] = runs as [Run, Run, Run];
const lines = [
  '| isolation | tests | tests\' time | per test | vitest run (wall) |',
  '|---|---|---|---|---|',
  ...runs.map((run) => `| ${run.mode} | ${run.tests} | ${(run.ms / 1000).toFixed(2)} s | ${perTest(run).toFixed(1)} ms | ${(run.wallMs / 1000).toFixed(1)} s |`),
  '',
  `reset: ${reset.tests} isolated tests in ${(reset.ms / 1000).toFixed(2)} s (plus ${(reset.startMs / 1000).toFixed(2)} s for the one testing runtime start); ` +
    `a fresh testing runtime per test costs ${(perTest(clone) / perTest(reset)).toFixed(1)}x as much per test ` +
    `(${reset.tests} such tests: about ${((perTest(clone) * reset.tests) / 1000).toFixed(0)} s); ` +
    `no isolation at all: ${(perTest(shared)).toFixed(1)} ms per test (reset adds ${(perTest(reset) - perTest(shared)).toFixed(1)} ms).`,
];
process.stdout.write(`${lines.join('\n')}\n`);
process.stdout.write(`ISOLATION-JSON ${JSON.stringify({ runs, ratioClonePerReset: perTest(clone) / perTest(reset) })}\n`);
