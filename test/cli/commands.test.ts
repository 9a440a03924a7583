/**
 * Every command's bad inputs, as a user meets them: one line on stderr naming what is wrong and
 * what to do, exit code 2 for a bad config file or flag and 1 for a failed command. Runs the built
 * CLI in temporary folders; `migrate` and `rollback` run against the test Postgres.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { freePort } from '../helpers/global-setup.js';
import { query, uniqueName } from '../helpers/test-databases.js';
import { REPO, assertCliBuilt, cleanEnv, expectOneLineError, operon, run, type CliResult } from './cli-process.js';

let dir: string;

beforeAll(() => {
  assertCliBuilt();
  dir = mkdtempSync(join(tmpdir(), 'operon-cli-commands-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A folder with the given files (paths relative to it); returns its path. */
function appFolder(files: Record<string, string>): string {
  const app = mkdtempSync(join(dir, 'app-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(app, path, '..'), { recursive: true });
    writeFileSync(join(app, path), text);
  }
  return app;
}

const OPERATIONS = `
import { Workflow, type WorkflowContext } from '@operon/sdk';
export class Jobs {
  @Workflow()
  static async run(_ctx: WorkflowContext): Promise<string> {
    return 'ran';
  }
}
`;

/** The last line of stderr: the CLI's own, after whatever a failed command printed. */
const lastLine = (result: CliResult): string => result.stderr.trimEnd().split('\n').at(-1)!;

const testServer = inject('postgres');

/** An app folder whose config names a fresh pair of databases on the test Postgres. */
function appWithDatabase(database: Record<string, unknown>, files: Record<string, string> = {}): { app: string; db: string } {
  const db = uniqueName('cli');
  const lines = [
    'database:',
    `  hostname: ${testServer.host}`,
    `  port: ${testServer.port}`,
    `  username: ${testServer.user}`,
    `  password: ${JSON.stringify(testServer.password)}`,
    `  user_database: ${db}`,
    `  system_database: ${db}_sys`,
    ...Object.entries(database).map(([key, value]) => `  ${key}: ${JSON.stringify(value)}`),
    'runtimeConfig:',
    '  host: 127.0.0.1',
    'telemetry:',
    '  logs: { logLevel: warn }',
  ];
  return { app: appFolder({ 'operon-config.yaml': `${lines.join('\n')}\n`, ...files }), db };
}

describe('help and usage', () => {
  it('has --help for the program and every command', async () => {
    const root = await operon(['--help'], { cwd: dir });
    expect(root.code).toBe(0);
    for (const command of ['init', 'build', 'start', 'migrate', 'rollback']) expect(root.stdout).toContain(command);
    const flags: Record<string, string[]> = {
      init: ['--template'],
      build: ['--config'],
      start: ['--port', '--log-level', '--config'],
      migrate: ['--config'],
      rollback: ['--config'],
    };
    // One process each, at the same time: each CLI start is mostly its imports.
    const helps = await Promise.all(Object.keys(flags).map((command) => operon([command, '--help'], { cwd: dir })));
    for (const [i, [command, expected]] of Object.entries(flags).entries()) {
      expect(helps[i]!.code, command).toBe(0);
      for (const flag of expected) expect(helps[i]!.stdout, command).toContain(flag);
    }
  });

  it('rejects an unknown command or option with exit code 2', async () => {
    const [unknownCommand, unknownOption] = await Promise.all([operon(['frobnicate'], { cwd: dir }), operon(['start', '--bogus'], { cwd: dir })]);
    expectOneLineError(unknownCommand!, 2, /^error: unknown command 'frobnicate'/);
    expectOneLineError(unknownOption!, 2, /^error: unknown option '--bogus'/);
  });
});

describe('operon init', () => {
  it('rejects names npm would not accept', async () => {
    expectOneLineError(await operon(['init', 'My-App'], { cwd: dir }), 1, /^invalid app name "My-App": npm package names must be lowercase$/);
    expectOneLineError(await operon(['init', '_private'], { cwd: dir }), 1, /^invalid app name "_private": .*cannot start with/);
    expectOneLineError(await operon(['init', 'a b'], { cwd: dir }), 1, /^invalid app name "a b": .*only lowercase letters/);
    expectOneLineError(await operon(['init', 'http'], { cwd: dir }), 1, /^invalid app name "http": .*core module/);
  });

  it('rejects an unknown template, naming the ones it has', async () => {
    expectOneLineError(await operon(['init', 'x', '--template', 'nope'], { cwd: dir }), 1, /^unknown template "nope"; available: drizzle, hello, knex, kysely$/);
  });

  it('refuses a target that is a file or holds files', async () => {
    writeFileSync(join(dir, 'a-file'), '');
    expectOneLineError(await operon(['init', 'a-file'], { cwd: dir }), 1, /^a-file exists and is not a folder/);
    mkdirSync(join(dir, 'full'));
    writeFileSync(join(dir, 'full', 'keep.txt'), 'mine');
    expectOneLineError(await operon(['init', 'full'], { cwd: dir }), 1, /^full is not empty \(it holds 1 entry\)/);
    expect(readFileSync(join(dir, 'full', 'keep.txt'), 'utf8')).toBe('mine');
  });

  it('names the app after the last part of the path, and accepts a folder holding only .git', async () => {
    mkdirSync(join(dir, 'apps', 'my-app', '.git'), { recursive: true });
    const result = await operon(['init', join('apps', 'my-app')], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'apps', 'my-app', 'package.json'), 'utf8')).name).toBe('my-app');
    expect(readFileSync(join(dir, 'apps', 'my-app', 'operon-config.yaml'), 'utf8')).toMatch(/system_database: my_app_operon_sys/);
  });

  it('installed from the registry, uses its packed templates and the published versions', async () => {
    // The package as npm would lay it out: `prepack` copies the templates into it.
    const packed = await run(process.execPath, [join(REPO, 'packages/cli/scripts/copy-templates.mjs')], { cwd: REPO });
    expect(packed.code, packed.stderr).toBe(0);
    const project = mkdtempSync(join(dir, 'installed-'));
    const installed = join(project, 'node_modules', '@operon', 'cli');
    mkdirSync(installed, { recursive: true });
    for (const entry of ['package.json', 'dist', 'templates']) cpSync(join(REPO, 'packages/cli', entry), join(installed, entry), { recursive: true });
    rmSync(join(REPO, 'packages/cli/templates'), { recursive: true, force: true });
    for (const dep of ['commander', 'esbuild']) symlinkSync(join(REPO, 'packages/cli/node_modules', dep), join(project, 'node_modules', dep));
    for (const dep of ['sdk', 'runtime']) symlinkSync(join(REPO, 'packages', dep), join(project, 'node_modules', '@operon', dep));

    const result = await run(process.execPath, [join(installed, 'dist', 'main.js'), 'init', 'outside'], { cwd: project, env: cleanEnv() });
    expect(result.code, result.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(project, 'outside', 'package.json'), 'utf8'));
    expect(manifest.dependencies).toEqual({ '@operon/cli': '^0.1.0', '@operon/runtime': '^0.1.0', '@operon/sdk': '^0.1.0' });
    expect(existsSync(join(project, 'outside', '.gitignore'))).toBe(true);
  });

  it('does not prompt without a terminal: the default name is operon-app', async () => {
    const cwd = mkdtempSync(join(dir, 'default-'));
    const result = await operon(['init'], { cwd });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(cwd, 'operon-app', 'package.json'), 'utf8')).name).toBe('operon-app');
  });
});

describe('operon build', () => {
  it('reports a missing or invalid config file with exit code 2, naming the file and key', async () => {
    const empty = appFolder({});
    expectOneLineError(await operon(['build'], { cwd: empty }), 2, /^operon-config\.yaml: config file not found/);
    expectOneLineError(await operon(['build', '-c', 'other.yaml'], { cwd: empty }), 2, /^other\.yaml: config file not found/);

    const typo = appFolder({ 'operon-config.yaml': 'runtimeConfig:\n  prot: 3000\n', 'src/operations.ts': OPERATIONS });
    expectOneLineError(await operon(['build'], { cwd: typo }), 2, /^operon-config\.yaml: runtimeConfig\.prot is not a known key; did you mean port\?/);
    const wrongType = appFolder({ 'operon-config.yaml': 'database:\n  port: abc\n' });
    expectOneLineError(await operon(['build'], { cwd: wrongType }), 2, /^operon-config\.yaml: database\.port must be an integer, got "abc"$/);
  });

  it('reports a missing entry file', async () => {
    const app = appFolder({ 'operon-config.yaml': '' });
    expectOneLineError(await operon(['build'], { cwd: app }), 1, /^src\/operations\.ts not found: operon build bundles/);
  });

  it('prints compile errors as file:line:column and exits 1', async () => {
    const app = appFolder({
      'operon-config.yaml': '',
      'src/operations.ts': `export { Jobs } from './jobs.js';\n`,
      'src/jobs.ts': `export class Jobs {\n  static async run( {\n    return 1;\n  }\n}\n`,
    });
    expectOneLineError(await operon(['build'], { cwd: app }), 1, /^src\/jobs\.ts:3:12: error: Expected "}" but found "1"$/);
  });

  it("bundles with the decorator mode of the app's tsconfig", async () => {
    const standard = appFolder({ 'operon-config.yaml': '', 'src/operations.ts': OPERATIONS });
    const legacy = appFolder({
      'operon-config.yaml': 'runtimeConfig:\n  entrypoint: out/app.js\n',
      'tsconfig.json': JSON.stringify({ compilerOptions: { experimentalDecorators: true } }),
      'src/operations.ts': OPERATIONS,
    });
    expect((await operon(['build'], { cwd: standard })).code).toBe(0);
    expect((await operon(['build'], { cwd: legacy })).code).toBe(0);
    // esbuild's helpers differ by mode: TC39 decorators are applied with __decorateElement.
    expect(readFileSync(join(standard, 'dist', 'operations.js'), 'utf8')).toContain('__decorateElement');
    const legacyBundle = readFileSync(join(legacy, 'out', 'app.js'), 'utf8');
    expect(legacyBundle).toContain('__decorateClass');
    // Packages stay external: the app's own copy of @operon/sdk is imported at run time.
    expect(legacyBundle).toMatch(/from "@operon\/sdk"/);
  });
});

describe('operon start', () => {
  it('reports a missing config file or a bad flag with exit code 2', async () => {
    expectOneLineError(await operon(['start'], { cwd: appFolder({}) }), 2, /^operon-config\.yaml: config file not found/);
    const app = appFolder({ 'operon-config.yaml': '' });
    expectOneLineError(await operon(['start', '-p', 'abc'], { cwd: app }), 2, /^error: option '-p, --port <port>' argument 'abc' is invalid/);
    expectOneLineError(await operon(['start', '-p', '70000'], { cwd: app }), 2, /^command line: -p\/--port must be an integer from 1 to 65535, got 70000$/);
    expectOneLineError(await operon(['start', '-l', 'loud'], { cwd: app }), 2, /^command line: -l\/--log-level must be one of trace, debug, info, warn, error, fatal, silent, got "loud"$/);
  });

  it('asks for operon build when the bundle is missing', async () => {
    const app = appFolder({ 'operon-config.yaml': `runtimeConfig:\n  port: ${await freePort()}\n` });
    expectOneLineError(await operon(['start'], { cwd: app }), 1, /^dist\/operations\.js not found: run `operon build` first/);
  });

  it('shows the stack trace only with OPERON_DEBUG=1', async () => {
    const app = appFolder({ 'operon-config.yaml': `runtimeConfig:\n  port: ${await freePort()}\n` });
    const result = await operon(['start'], { cwd: app, env: cleanEnv({ OPERON_DEBUG: '1' }) });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^OperonCliBundleNotFoundError: dist\/operations\.js not found/);
    expect(result.stderr).toMatch(/^\s+at /m);
  });

  it('reports a bundle that fails to load, or exports no Operon class', async () => {
    const port = await freePort();
    const throws = appFolder({ 'operon-config.yaml': `runtimeConfig:\n  port: ${port}\n`, 'dist/operations.js': "throw new Error('boom at load');\n" });
    expectOneLineError(await operon(['start'], { cwd: throws }), 1, /^cannot load dist\/operations\.js: boom at load$/);
    const plain = appFolder({ 'operon-config.yaml': `runtimeConfig:\n  port: ${port}\n`, 'dist/operations.js': 'export class NotOperon {}\n' });
    expectOneLineError(await operon(['start'], { cwd: plain }), 1, /^dist\/operations\.js exports no class with Operon decorators/);
  });

  it('fails cleanly after connecting: the error in one line, the process gone', async () => {
    // Decorators applied by hand (the legacy form), so the bundle needs no compiler.
    const sdk = JSON.stringify(pathToFileURL(join(REPO, 'packages/sdk/dist/index.js')).href);
    const bundle = [
      `import { GetApi } from ${sdk};`,
      'export class Twice {',
      "  static async first(ctx) { return 'first'; }",
      "  static async second(ctx) { return 'second'; }",
      '}',
      "GetApi('/same')(Twice, 'first', Object.getOwnPropertyDescriptor(Twice, 'first'));",
      "GetApi('/same')(Twice, 'second', Object.getOwnPropertyDescriptor(Twice, 'second'));",
    ].join('\n');
    const { app } = appWithDatabase({}, { 'dist/operations.js': bundle });
    expectOneLineError(
      await operon(['start', '-p', String(await freePort())], { cwd: app, env: cleanEnv() }),
      1,
      /^Twice\.second and Twice\.first both serve GET \/same; give each route its own method and path$/,
    );
  });

  it('stops with one line when an @Initializer throws, before serving', async () => {
    const sdk = JSON.stringify(pathToFileURL(join(REPO, 'packages/sdk/dist/index.js')).href);
    const bundle = [
      `import { GetApi, Initializer } from ${sdk};`,
      'export class Boot {',
      "  static async seed(ctx) { await ctx.queryUserDB('SELECT 1'); throw new Error('no seed data'); }",
      "  static async hello(ctx) { return 'hello'; }",
      '}',
      "Initializer()(Boot, 'seed', Object.getOwnPropertyDescriptor(Boot, 'seed'));",
      "GetApi('/hello')(Boot, 'hello', Object.getOwnPropertyDescriptor(Boot, 'hello'));",
    ].join('\n');
    const { app } = appWithDatabase({}, { 'dist/operations.js': bundle });
    const result = await operon(['start', '-p', String(await freePort())], { cwd: app, env: cleanEnv() });
    expectOneLineError(result, 1, /^initializer Boot\.seed failed: no seed data$/);
    expect(result.stdout).not.toMatch(/serving on/);
  });

  it('openapi prints the document of the bundle without a database, or writes it with -o', async () => {
    const sdk = JSON.stringify(pathToFileURL(join(REPO, 'packages/sdk/dist/index.js')).href);
    const bundle = [
      `import { GetApi } from ${sdk};`,
      'export class Books {',
      "  static async book(ctx, id) { return id; }",
      '}',
      "GetApi('/books/:id')(Books, 'book', Object.getOwnPropertyDescriptor(Books, 'book'));",
    ].join('\n');
    // A database nobody listens on: the command must not try it.
    const app = appFolder({
      'operon-config.yaml': 'database:\n  hostname: 127.0.0.1\n  port: 1\n',
      'package.json': JSON.stringify({ name: 'bookshop', version: '2.0.0', type: 'module' }),
      'dist/operations.js': bundle,
    });
    const printed = await operon(['openapi'], { cwd: app, env: cleanEnv() });
    expect(printed.stderr).toBe('');
    expect(printed.code).toBe(0);
    const document = JSON.parse(printed.stdout);
    expect(document.info).toEqual({ title: 'bookshop', version: '2.0.0' });
    expect(document.paths['/books/{id}'].get.parameters).toEqual([{ name: 'id', in: 'path', required: true, schema: {} }]);
    const written = await operon(['openapi', '-o', 'api.json'], { cwd: app, env: cleanEnv() });
    expect(written.code).toBe(0);
    expect(written.stderr).toBe('wrote api.json\n');
    expect(JSON.parse(readFileSync(join(app, 'api.json'), 'utf8'))).toEqual(document);
  });

  it('reports a port in use before touching the database', async () => {
    const holder: NetServer = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      // A database nobody listens on: reaching it would fail differently.
      const app = appFolder({ 'operon-config.yaml': `database:\n  hostname: 127.0.0.1\n  port: ${await freePort()}\nruntimeConfig:\n  host: 127.0.0.1\n` });
      expectOneLineError(await operon(['start', '-p', String(port)], { cwd: app }), 1, new RegExp(`^port ${port} is in use \\(is another \`operon start\` running for this app\\?\\)`));
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});

describe('operon migrate and rollback', () => {
  const pgRequire = JSON.stringify(join(REPO, 'node_modules', 'pg'));
  /** A command that runs `sql` through node-postgres configured by the environment alone. */
  const sqlCommand = (sql: string, how: 'libpq' | 'url'): string => {
    const options = how === 'url' ? '{ connectionString: process.env.DATABASE_URL }' : '';
    const script = `const pg = require(${pgRequire}); const c = new pg.Client(${options}); c.connect().then(() => c.query(${JSON.stringify(sql)})).then(() => c.end(), (e) => { console.error(e.message); process.exit(1); });`;
    return `node -e '${script}'`;
  };

  it('applies migrations/*.sql once, then runs each command with the app database in its environment', async () => {
    const { app, db } = appWithDatabase(
      {
        migrate: [
          sqlCommand('CREATE TABLE IF NOT EXISTS from_libpq (x int)', 'libpq'),
          sqlCommand('CREATE TABLE IF NOT EXISTS from_url (x int)', 'url'),
          'echo "$PGDATABASE" >> ran.txt',
        ],
      },
      { 'migrations/001_first.sql': 'CREATE TABLE first (id int);', 'migrations/002_second.sql': 'INSERT INTO first VALUES (1);' },
    );
    const result = await operon(['migrate'], { cwd: app, env: cleanEnv() });
    expect(result.code, result.stderr).toBe(0);
    const again = await operon(['migrate'], { cwd: app, env: cleanEnv() });
    expect(again.code, again.stderr).toBe(0);

    // Each SQL file ran once (one row, not two); the commands ran on both runs, on the app database.
    expect(await query(db, 'SELECT id FROM first')).toEqual([{ id: 1 }]);
    const tables = await query<{ table_name: string }>(db, "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'from_%' ORDER BY 1");
    expect(tables.map((t) => t.table_name)).toEqual(['from_libpq', 'from_url']);
    expect(readFileSync(join(app, 'ran.txt'), 'utf8')).toBe(`${db}\n${db}\n`);
    // And Operon's own schema was created in the system database.
    expect(await query(`${db}_sys`, 'SELECT count(*)::int AS n FROM operon.workflow_status')).toEqual([{ n: 0 }]);
  });

  it('stops at the first failing command, after showing its output', async () => {
    const { app } = appWithDatabase({ migrate: ['echo first-ran', 'echo boom >&2; exit 3', 'echo never-ran'] });
    const result = await operon(['migrate'], { cwd: app, env: cleanEnv() });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('first-ran');
    expect(result.stdout).not.toContain('never-ran');
    expect(result.stderr).toContain('boom');
    expect(lastLine(result)).toBe('database.migrate[1] `echo boom >&2; exit 3` failed with exit code 3; the commands after it were not run');
  });

  it('stops at a failing SQL migration, naming the file', async () => {
    const { app } = appWithDatabase({}, { 'migrations/001_bad.sql': 'CREATE TABLE broken (;' });
    expectOneLineError(await operon(['migrate'], { cwd: app, env: cleanEnv() }), 1, /^migration .*001_bad\.sql failed: syntax error/);
  });

  it('rollback runs the rollback commands the same way, and does nothing without them', async () => {
    const { app } = appWithDatabase({ rollback: ['echo "undo $PGDATABASE" >> undo.txt', 'exit 4', 'echo never >> undo.txt'] });
    const result = await operon(['rollback'], { cwd: app, env: cleanEnv() });
    expect(lastLine(result)).toBe('database.rollback[1] `exit 4` failed with exit code 4; the commands after it were not run');
    expect(result.code).toBe(1);
    expect(readFileSync(join(app, 'undo.txt'), 'utf8')).toMatch(/^undo cli_[0-9a-f]+\n$/);

    const { app: none } = appWithDatabase({});
    const nothing = await operon(['rollback'], { cwd: none, env: cleanEnv() });
    expect(nothing.code, nothing.stderr).toBe(0);
  });

  it('names the database it cannot reach', async () => {
    const port = await freePort();
    const app = appFolder({ 'operon-config.yaml': `database:\n  hostname: 127.0.0.1\n  port: ${port}\n  password: x\n` });
    expectOneLineError(
      await operon(['migrate'], { cwd: app, env: cleanEnv() }),
      1,
      new RegExp(`^cannot use Postgres at 127\\.0\\.0\\.1:${port} as postgres: .*ECONNREFUSED.*check the database section of operon-config\\.yaml$`),
    );
  });
});
