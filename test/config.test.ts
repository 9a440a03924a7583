import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { inspect } from 'node:util';
import { OperonError } from '@operon/sdk';
import { afterAll, describe, expect, it } from 'vitest';
import {
  OperonConfigError,
  getConfigValue,
  loadConfig,
  resolveConfig,
  type ConfigOverrides,
  type OperonConfig,
} from '../packages/runtime/src/config/index.js';

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(packageJson?: object): string {
  const dir = mkdtempSync(join(tmpdir(), 'operon-config-test-'));
  tempDirs.push(dir);
  if (packageJson !== undefined) writeFileSync(join(dir, 'package.json'), JSON.stringify(packageJson));
  return dir;
}

/** Writes `text` as operon-config.yaml in a fresh folder; returns the file's path. */
function writeConfig(text: string, packageJson?: object): string {
  const file = join(tempDir(packageJson), 'operon-config.yaml');
  writeFileSync(file, text);
  return file;
}

/** Loads YAML text with a controlled environment (never the test runner's own). */
function load(text: string, env: NodeJS.ProcessEnv = {}, overrides?: ConfigOverrides): OperonConfig {
  return loadConfig(writeConfig(text), { env, overrides });
}

/** Resolves an object labelled `cfg`, so messages are short and exact. */
function resolve(input: unknown, env: NodeJS.ProcessEnv = {}): OperonConfig {
  return resolveConfig(input, { file: 'cfg', appDir: tempDir(), env });
}

function configError(fn: () => unknown): OperonConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(OperonConfigError);
    return error as OperonConfigError;
  }
  throw new Error('expected an OperonConfigError, but nothing was thrown');
}

describe('OperonConfigError', () => {
  it('has a stable code and is an OperonError', () => {
    const error = configError(() => resolve({ database: { port: 'abc' } }));
    expect(OperonConfigError.CODE).toBe('OPERON_ERR_CONFIG_INVALID');
    expect(error.code).toBe('OPERON_ERR_CONFIG_INVALID');
    expect(error).toBeInstanceOf(OperonError);
    expect(error.name).toBe('OperonConfigError');
  });
});

describe('reading the file', () => {
  it('reports a missing file by the path it was given', () => {
    const missing = join(tempDir(), 'nope.yaml');
    const error = configError(() => loadConfig(missing, { env: {} }));
    expect(error.message).toBe(`${missing}: config file not found (run operon init, or pass -c <file>)`);
    expect(error.file).toBe(missing);
    expect(error.key).toBe('');
  });

  it('names a relative path as given, not made absolute', () => {
    const file = relative(process.cwd(), writeConfig('database: {port: abc}\n'));
    const error = configError(() => loadConfig(file, { env: {} }));
    expect(error.message).toBe(`${file}: database.port must be an integer, got "abc"`);
  });

  it('reports bad YAML with line and column, without the source line', () => {
    const file = writeConfig('database:\n  port: [1, 2\n');
    const error = configError(() => loadConfig(file, { env: {} }));
    expect(error.message).toBe(
      `${file}:3:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]`,
    );
    expect(error.issues[0]).toMatchObject({ line: 3, column: 1, expected: 'valid YAML' });
  });

  it('does not leak a password from a line that fails to parse', () => {
    const error = configError(() => load('database:\n  password: "s3cret-pw\n'));
    expect(error.message).toMatch(/:3:1: invalid YAML: Missing closing "quote$/);
    expect(error.message).not.toContain('s3cret-pw');
  });

  it('treats YAML warnings (an unknown tag) as errors', () => {
    const error = configError(() => load('database:\n  password: !env PGPASSWORD\n'));
    expect(error.message).toMatch(/operon-config\.yaml:2:13: invalid YAML: Unresolved tag: !env$/);
  });

  it('reports an alias to a missing anchor', () => {
    const error = configError(() => load('application: *nothing\n'));
    expect(error.message).toMatch(/operon-config\.yaml: invalid YAML: Unresolved alias/);
  });

  it('rejects a file that is not a mapping', () => {
    const error = configError(() => load('- a\n- b\n'));
    expect(error.message).toMatch(/operon-config\.yaml: the file must be a mapping of keys to values, got a list$/);
  });

  it('accepts an empty file, or one with only comments, as all defaults', () => {
    const empty = writeConfig('');
    const commented = join(empty, '..', 'commented.yaml');
    writeFileSync(commented, '# nothing here\n');
    const defaults = resolveConfig({}, { file: empty, appDir: join(empty, '..'), env: {} });
    expect(JSON.stringify(loadConfig(empty, { env: {} }))).toBe(JSON.stringify(defaults));
    expect(JSON.stringify({ ...loadConfig(commented, { env: {} }), file: empty })).toBe(JSON.stringify(defaults));
  });

  it('sets file and appDir, and resolves the entrypoint against appDir', () => {
    const file = writeConfig('runtimeConfig:\n  entrypoint: build/app.js\n');
    const config = loadConfig(file, { env: {} });
    expect(config.file).toBe(file);
    expect(config.appDir).toBe(join(file, '..'));
    expect(config.runtimeConfig.entrypoint).toBe(join(file, '..', 'build', 'app.js'));
  });
});

describe('schema validation', () => {
  it('rejects an unknown top-level key, suggesting the near one and listing the allowed ones', () => {
    const error = configError(() => resolve({ databse: {} }));
    expect(error.message).toBe(
      'cfg: databse is not a known key; did you mean database? (allowed: database, runtimeConfig, telemetry, authentication, management, application)',
    );
    expect(error.key).toBe('databse');
    expect(error.expected).toBe('one of database, runtimeConfig, telemetry, authentication, management, application');
  });

  it('rejects an unknown nested key, even one with no value', () => {
    const error = configError(() => load('database:\n  hostnme:\n'));
    expect(error.message).toMatch(
      /operon-config\.yaml: database\.hostnme is not a known key; did you mean hostname\? \(allowed: hostname, port, username, password, user_database, system_database, connectionTimeoutMillis, poolSize, ssl, sslrootcert, pooler, notifications, listenUrl, pollIntervalMs, client, migrate, rollback\)$/,
    );
    expect(error.key).toBe('database.hostnme');
  });

  it('offers no suggestion when nothing is close', () => {
    const error = configError(() => resolve({ telemetry: { metrics: true } }));
    expect(error.message).toBe('cfg: telemetry.metrics is not a known key (allowed: logs, traces)');
  });

  it('rejects a wrong type with the key, the expectation and the value', () => {
    const error = configError(() => load('database:\n  port: abc\n'));
    expect(error.message).toMatch(/operon-config\.yaml: database\.port must be an integer, got "abc"$/);
    expect(error).toMatchObject({ key: 'database.port', expected: 'an integer', got: '"abc"' });
  });

  it.each([
    [{ runtimeConfig: { port: 70000 } }, 'runtimeConfig.port must be an integer from 1 to 65535, got 70000'],
    [{ database: { poolSize: 0 } }, 'database.poolSize must be an integer from 1 to 1000, got 0'],
    [{ database: { connectionTimeoutMillis: 1.5 } }, 'database.connectionTimeoutMillis must be an integer, got 1.5'],
    [{ database: { ssl: 'yes' } }, 'database.ssl must be true, false or an sslmode (disable, prefer, require, verify-ca, verify-full, no-verify), got "yes"'],
    [{ database: { hostname: 'db', ssl: 'allow' } }, 'database.ssl must be true, false or an sslmode (disable, prefer, require, verify-ca, verify-full, no-verify), got "allow"'],
    [{ runtimeConfig: { requestTimeoutMs: 0 } }, 'runtimeConfig.requestTimeoutMs must be an integer from 1 to 3600000, got 0'],
    [{ runtimeConfig: { leaseMs: 999 } }, 'runtimeConfig.leaseMs must be an integer from 1000 to 3600000, got 999'],
    [{ runtimeConfig: { heartbeatIntervalMs: 50 } }, 'runtimeConfig.heartbeatIntervalMs must be an integer from 100 to 1200000, got 50'],
    [{ runtimeConfig: { heartbeatIntervalMs: 2001 } }, 'runtimeConfig.heartbeatIntervalMs must be at most a third of runtimeConfig.leaseMs (6000, the default), got 2001'],
    [{ runtimeConfig: { leaseMs: 1500, heartbeatIntervalMs: 600 } }, 'runtimeConfig.heartbeatIntervalMs must be at most a third of runtimeConfig.leaseMs (1500), got 600'],
    [{ database: { hostname: '' } }, 'database.hostname must be a non-empty string, got ""'],
    [{ database: { migrate: 'npx knex migrate:latest' } }, 'database.migrate must be a list of strings, got "npx knex migrate:latest"'],
    [{ database: { rollback: ['ok', 2] } }, 'database.rollback[1] must be a string, got 2'],
    [{ database: 'localhost' }, 'database must be a mapping of keys to values, got "localhost"'],
    [{ telemetry: { logs: { logLevel: 'verbose' } } }, 'telemetry.logs.logLevel must be one of trace, debug, info, warn, error, fatal, silent, got "verbose"'],
    [{ telemetry: { traces: { endpoint: 'localhost:4318' } } }, 'telemetry.traces.endpoint must be an http:// or https:// URL, got "localhost:4318"'],
    [{ application: [1, 2] }, 'application must be a mapping of keys to values, got a list'],
  ])('rejects %j', (input, detail) => {
    expect(configError(() => resolve(input)).message).toBe(`cfg: ${detail}`);
  });

  it('reports every problem, one per line, unknown keys first', () => {
    const error = configError(() =>
      resolve({ database: { port: 'abc' }, runtimeConfig: { port: 0, prot: 1 }, extra: 1 }),
    );
    expect(error.message.split('\n')).toEqual([
      'cfg: extra is not a known key (allowed: database, runtimeConfig, telemetry, authentication, management, application)',
      'cfg: runtimeConfig.prot is not a known key; did you mean port? (allowed: port, host, entrypoint, bodyLimitBytes, maxJsonDepth, requestTimeoutMs, maxRecoveryAttempts, shutdownGraceMs, leaseMs, heartbeatIntervalMs)',
      'cfg: database.port must be an integer, got "abc"',
      'cfg: runtimeConfig.port must be an integer from 1 to 65535, got 0',
    ]);
    expect(error.issues).toHaveLength(4);
    expect(error.key).toBe('extra');
  });

  it('never shows a password value, even of the wrong type', () => {
    const error = configError(() => load('database:\n  password: 12345678\n'));
    expect(error.message).toMatch(/database\.password must be a string, got a number \(not shown\)$/);
    expect(error.message).not.toContain('12345678');
    expect(error.got).not.toContain('12345678');
  });

  it('takes the heartbeat interval as a third of a configured lease unless it is set', () => {
    expect(resolve({ runtimeConfig: { leaseMs: 1500 } }).runtimeConfig).toMatchObject({ leaseMs: 1500, heartbeatIntervalMs: 500 });
    expect(resolve({ runtimeConfig: { leaseMs: 3000, heartbeatIntervalMs: 250 } }).runtimeConfig).toMatchObject({ leaseMs: 3000, heartbeatIntervalMs: 250 });
    expect(resolve({ runtimeConfig: { heartbeatIntervalMs: 2000 } }).runtimeConfig).toMatchObject({ leaseMs: 6000, heartbeatIntervalMs: 2000 });
  });

  it('leaves application free-form', () => {
    const config = resolve({ application: { anything: [1, { deep: null }], 'odd key': true } });
    expect(config.application).toEqual({ anything: [1, { deep: null }], 'odd key': true });
  });

  it('treats a key written with no value as not set', () => {
    const config = load('database:\nruntimeConfig:\n  port:\n');
    expect(config.database.embedded).toBe(true);
    expect(config.runtimeConfig.port).toBe(3000);
  });
});

describe('${VAR} substitution', () => {
  it('substitutes values from the env, with :- defaults for unset or empty variables', () => {
    const config = load(
      'database:\n  hostname: ${DB_HOST}\n  username: ${DB_USER:-app}\n  user_database: ${DB_NAME:-fallback}\n' +
        'telemetry:\n  traces:\n    endpoint: http://${OTEL_HOST:-localhost}:4318/v1/traces\n',
      { DB_HOST: 'db.internal', DB_NAME: '', OTEL_HOST: 'collector' },
    );
    expect(config.database.hostname).toBe('db.internal');
    expect(config.database.username).toBe('app');
    expect(config.database.user_database).toBe('fallback');
    expect(config.telemetry.traces.endpoint).toBe('http://collector:4318/v1/traces');
  });

  it('keeps a set but empty variable empty when there is no default', () => {
    expect(load('application:\n  note: "[${EMPTY}]"\n', { EMPTY: '' }).application['note']).toBe('[]');
  });

  it('rejects an unset variable without a default, naming it and the key', () => {
    const error = configError(() => load('database:\n  password: ${PGPASSWORD}\n'));
    expect(error.message).toMatch(
      /operon-config\.yaml: database\.password refers to \$\{PGPASSWORD\}, which is not set: set PGPASSWORD in the environment, or write \$\{PGPASSWORD:-default\}$/,
    );
    expect(error).toMatchObject({ key: 'database.password', expected: 'environment variable PGPASSWORD to be set', got: 'unset' });
  });

  it('names list items by index and reports every unset variable, and no type error for them', () => {
    const error = configError(() => resolve({ database: { port: '${NO_PORT}', migrate: ['a', 'run ${NO_CMD}'] } }));
    expect(error.message.split('\n')).toEqual([
      'cfg: database.port refers to ${NO_PORT}, which is not set: set NO_PORT in the environment, or write ${NO_PORT:-default}',
      'cfg: database.migrate[1] refers to ${NO_CMD}, which is not set: set NO_CMD in the environment, or write ${NO_CMD:-default}',
    ]);
  });

  it('cannot inject keys: a substituted value is one string, whatever YAML it contains', () => {
    const config = load('database:\n  username: ${EVIL}\n', { EVIL: 'bob\nhostname: evil.example.com\n' });
    expect(config.database.username).toBe('bob\nhostname: evil.example.com\n');
    expect(config.database.embedded).toBe(true);
  });

  it('writes a literal ${ for $${, so shell commands can keep their own variables', () => {
    const config = load("database:\n  migrate: ['psql -d $${PGDATABASE} -f x.sql']\n", { PGDATABASE: 'other' });
    expect(config.database.migrate).toEqual(['psql -d ${PGDATABASE} -f x.sql']);
  });

  it('rejects a malformed reference without echoing it', () => {
    const error = configError(() => resolve({ database: { password: 'abc${unclosed-secret' } }));
    expect(error.message).toBe(
      'cfg: database.password has a "${" that starts no valid reference: write ${NAME} or ${NAME:-default}, or $${ for a literal ${',
    );
    expect(error.message).not.toContain('unclosed-secret');
  });

  it('does not substitute keys', () => {
    expect(resolve({ application: { '${KEY}': 1 } }, { KEY: 'k' }).application).toEqual({ '${KEY}': 1 });
  });

  it('coerces a whole ${VAR} to the integer or boolean the schema wants', () => {
    const config = load(
      'database:\n  hostname: db\n  port: ${PGPORT_X:-5433}\n  ssl: ${USE_SSL}\n' +
        'runtimeConfig:\n  port: ${PORT}\ntelemetry:\n  traces:\n    enabled: ${TRACES:-false}\n' +
        'application:\n  count: ${COUNT}\n',
      { USE_SSL: 'TRUE', PORT: '8080', COUNT: '7' },
    );
    expect(config.database.port).toBe(5433);
    expect(config.database.ssl).toBe('verify-full');
    expect(config.runtimeConfig.port).toBe(8080);
    expect(config.telemetry.traces.enabled).toBe(false);
    expect(config.application['count']).toBe('7'); // application has no schema, so no coercion
  });

  it('names the variable when a substituted value has the wrong type', () => {
    const error = configError(() => load('database:\n  port: ${MY_PORT}\n', { MY_PORT: 'abc' }));
    expect(error.message).toMatch(/operon-config\.yaml: database\.port must be an integer, got "abc" \(from \$\{MY_PORT\}\)$/);
  });

  it('does not coerce a quoted literal or a partial reference', () => {
    expect(configError(() => load('database:\n  port: "5432"\n')).message).toMatch(
      /database\.port must be an integer, got "5432"$/,
    );
    expect(configError(() => resolve({ database: { port: '${P}0' } }, { P: '543' })).message).toBe(
      'cfg: database.port must be an integer, got "5430"',
    );
  });

  it('hides a value that came from a secret-looking variable', () => {
    const error = configError(() => resolve({ database: { port: '${DB_PASSWORD}' } }, { DB_PASSWORD: 'hunter2' }));
    expect(error.message).toBe('cfg: database.port must be an integer, got a string (not shown) (from ${DB_PASSWORD})');
  });
});

describe('defaults', () => {
  it('resolves an empty config to the documented defaults', () => {
    const appDir = tempDir();
    const config = resolveConfig({}, { file: '', appDir, env: {} });
    expect(JSON.parse(JSON.stringify(config))).toEqual({
      file: '',
      appDir,
      database: {
        embedded: true,
        hostname: 'localhost',
        port: 5432,
        username: 'postgres',
        user_database: 'operon_app',
        system_database: 'operon_app_operon_sys',
        connectionTimeoutMillis: 3000,
        poolSize: 20,
        pooler: 'none',
        notifications: 'listen',
        listen: undefined,
        pollIntervalMs: 100,
        client: 'pg',
        ssl: 'disable',
        migrate: [],
        rollback: [],
      },
      runtimeConfig: {
        port: 3000,
        host: '0.0.0.0',
        entrypoint: join(appDir, 'dist', 'operations.js'),
        bodyLimitBytes: 1048576,
        maxJsonDepth: 1000,
        requestTimeoutMs: 30000,
        maxRecoveryAttempts: 5,
        shutdownGraceMs: 10000,
        leaseMs: 6000,
        heartbeatIntervalMs: 2000,
        // Generated at start when OPERON_EXECUTOR_ID is unset.
        executorId: undefined,
      },
      telemetry: { logs: { logLevel: 'info', format: 'auto' }, traces: { enabled: false, endpoint: 'http://localhost:4318/v1/traces' } },
      authentication: {},
      // The token is non-enumerable (never shown), and unset here; retentionDays unset: keep everything.
      management: { jwt: false, stuckAfterSeconds: 300, appDeadlineMs: 5000, systemDeadlineMs: 5000 },
      application: {},
    });
    expect(config.management.token).toBeUndefined();
    // The embedded Postgres's password is the random one it makes at its first start, not in the config.
    expect(config.database.password).toBe('');
  });

  it.each([
    ['@Acme/Hello-App', 'acme_hello_app'],
    ['hello', 'hello'],
    ['2fast', 'app_2fast'],
    ['---', 'operon_app'],
    ['x'.repeat(80), 'x'.repeat(52)],
  ])('names the database after package.json %j → %s', (name, expected) => {
    const config = resolveConfig({}, { file: '', appDir: tempDir({ name }), env: {} });
    expect(config.database.user_database).toBe(expected);
    expect(config.database.system_database).toBe(`${expected}_operon_sys`);
  });

  it('takes the executor id from OPERON_EXECUTOR_ID', () => {
    expect(resolve({}, { OPERON_EXECUTOR_ID: 'vm-7' }).runtimeConfig.executorId).toBe('vm-7');
  });
});

describe('database precedence: file, then DATABASE_URL, then PG* variables, then defaults', () => {
  const pgEnv = { PGHOST: 'envhost', PGPORT: '6000', PGUSER: 'envuser', PGPASSWORD: 'envpw', PGDATABASE: 'envdb' };

  it('uses the libpq variables, and PGHOST means not embedded', () => {
    const db = resolve({}, pgEnv).database;
    expect({ ...db, password: db.password }).toMatchObject({
      embedded: false, hostname: 'envhost', port: 6000, username: 'envuser', password: 'envpw',
      user_database: 'envdb', system_database: 'envdb_operon_sys',
    });
  });

  it('lets the file win over the environment', () => {
    const db = resolve({ database: { hostname: 'filehost', port: 7000, username: 'u', password: 'p', user_database: 'd' } }, pgEnv).database;
    expect([db.hostname, db.port, db.username, db.password, db.user_database]).toEqual(['filehost', 7000, 'u', 'p', 'd']);
  });

  it('applies PG* variables to the embedded server too, but not PGPASSWORD or PGSSLMODE: it has its own password and no TLS', () => {
    const db = resolve({}, { PGPORT: '5999', PGPASSWORD: 'meant-for-another-server', PGSSLMODE: 'require' }).database;
    expect([db.embedded, db.port, db.password, db.ssl]).toEqual([true, 5999, '', 'disable']);
  });

  it('refuses a password, TLS or a CA file in the file for the embedded server, naming why', () => {
    const error = configError(() => resolve({ database: { password: 'postgres', ssl: 'require', sslrootcert: 'ca.pem' } }));
    expect(error.message.split('\n')).toEqual([
      'cfg: database.password applies to your own Postgres server (set database.hostname); the embedded Postgres uses the random password it made at its first start, kept in .operon/pgpassword',
      'cfg: database.ssl applies to your own Postgres server (set database.hostname); the embedded Postgres listens on 127.0.0.1 only, without TLS',
      'cfg: database.sslrootcert applies to your own Postgres server (set database.hostname); the embedded Postgres listens on 127.0.0.1 only, without TLS',
    ]);
  });

  it("gives an external server without a password '' (libpq then uses ~/.pgpass)", () => {
    expect(resolve({ database: { hostname: 'db' } }).database.password).toBe('');
  });

  it('counts empty variables as unset', () => {
    const db = resolve({}, { PGHOST: '', PGPASSWORD: '' }).database;
    expect([db.embedded, db.password]).toEqual([true, '']);
  });

  it('reads DATABASE_URL when the file names no hostname, decoding its parts', () => {
    const env = { ...pgEnv, DATABASE_URL: 'postgresql://us%40r:p%3Ass@url.example.com:6543/url_db?sslmode=require' };
    const db = resolve({ database: { username: 'fileuser' } }, env).database;
    expect([db.embedded, db.hostname, db.port, db.username, db.password, db.user_database, db.ssl]).toEqual([
      false, 'url.example.com', 6543, 'fileuser', 'p:ss', 'url_db', 'require',
    ]);
  });

  it('fills what DATABASE_URL leaves out from PG* variables', () => {
    const db = resolve({}, { DATABASE_URL: 'postgres://url.example.com/app', PGPASSWORD: 'envpw', PGPORT: '6001' }).database;
    expect([db.hostname, db.port, db.username, db.password, db.user_database]).toEqual([
      'url.example.com', 6001, 'postgres', 'envpw', 'app',
    ]);
  });

  it('ignores DATABASE_URL when the file names a hostname', () => {
    const db = resolve({ database: { hostname: 'filehost' } }, { DATABASE_URL: 'not a url' }).database;
    expect([db.hostname, db.port]).toEqual(['filehost', 5432]);
  });

  it('rejects a bad DATABASE_URL without echoing it', () => {
    const error = configError(() => resolve({}, { DATABASE_URL: 'mysql://u:topsecret@h/db' }));
    expect(error.message).toBe('environment: DATABASE_URL must be a postgres:// or postgresql:// URL, got something else (not shown)');
    expect(error.message).not.toContain('topsecret');
  });

  it('rejects a bad PGPORT or PGSSLMODE', () => {
    expect(configError(() => resolve({}, { PGPORT: 'abc' })).message).toBe(
      'environment: PGPORT must be an integer from 1 to 65535, got "abc"',
    );
    expect(configError(() => resolve({}, { PGSSLMODE: 'maybe' })).message).toBe(
      'environment: PGSSLMODE must be one of disable, prefer, require, verify-ca, verify-full, no-verify, got "maybe"',
    );
  });

  it('takes ssl from PGSSLMODE unless the file sets it; true is verify-full, false is disable', () => {
    const own = { hostname: 'db' };
    expect(resolve({ database: own }, { PGSSLMODE: 'verify-ca', PGSSLROOTCERT: new URL(import.meta.url).pathname }).database.ssl).toBe('verify-ca');
    expect(resolve({ database: { ...own, ssl: false } }, { PGSSLMODE: 'require' }).database.ssl).toBe('disable');
    expect(resolve({ database: { ...own, ssl: true } }).database.ssl).toBe('verify-full');
    expect(resolve({ database: { ...own, ssl: 'no-verify' } }).database.ssl).toBe('no-verify');
  });

  it('resolves sslrootcert against the config folder and refuses one it cannot read', () => {
    const appDir = tempDir();
    writeFileSync(join(appDir, 'ca.pem'), 'not checked here');
    const config = resolveConfig({ database: { hostname: 'db', ssl: 'verify-full', sslrootcert: 'ca.pem' } }, { file: 'cfg', appDir, env: {} });
    expect(config.database.sslrootcert).toBe(join(appDir, 'ca.pem'));
    const error = configError(() => resolveConfig({ database: { hostname: 'db', sslrootcert: 'missing.pem' } }, { file: 'cfg', appDir, env: {} }));
    expect(error.message).toBe(
      `cfg: database.sslrootcert must name a readable PEM file of certificate authorities, got "missing.pem": ${join(appDir, 'missing.pem')} (ENOENT)`,
    );
  });

  it('refuses verify-ca without a CA file: with the system CAs, any certificate a public CA signed would pass', () => {
    const error = configError(() => resolve({ database: { hostname: 'db', ssl: 'verify-ca' } }));
    expect(error.message).toBe(
      'cfg: database.ssl verify-ca checks the server certificate against database.sslrootcert only (not its host name): set database.sslrootcert (or PGSSLROOTCERT) to the CA file, or use verify-full',
    );
  });
});

describe('command-line overrides', () => {
  it('win over the file', () => {
    const config = load('runtimeConfig: {port: 4000}\ntelemetry: {logs: {logLevel: warn}}\n', {}, { port: 5000, logLevel: 'debug' });
    expect(config.runtimeConfig.port).toBe(5000);
    expect(config.telemetry.logs.logLevel).toBe('debug');
  });

  it('are validated and named by their flag', () => {
    expect(configError(() => load('', {}, { port: 0 })).message).toBe(
      'command line: -p/--port must be an integer from 1 to 65535, got 0',
    );
    expect(configError(() => load('', {}, { logLevel: 'loud' })).message).toBe(
      'command line: -l/--log-level must be one of trace, debug, info, warn, error, fatal, silent, got "loud"',
    );
  });
});

describe('the resolved config', () => {
  it('is deep-frozen, and the input is left as it was', () => {
    const input = { database: { migrate: ['a'] }, application: { nested: { list: [1] } } };
    const config = resolve(input);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.database.migrate)).toBe(true);
    expect(Object.isFrozen((config.application['nested'] as { list: number[] }).list)).toBe(true);
    expect(() => {
      (config.runtimeConfig as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(Object.isFrozen(input.application.nested)).toBe(false);
  });

  it('hides the password from JSON, console.log and Object.keys, but reads it as a property', () => {
    const config = load('database:\n  hostname: db\n  password: ${PGPASSWORD}\n', { PGPASSWORD: 'tops3cret' });
    expect(config.database.password).toBe('tops3cret');
    expect(JSON.stringify(config)).not.toContain('tops3cret');
    expect(inspect(config, { depth: null })).not.toContain('tops3cret');
    expect(Object.keys(config.database)).not.toContain('password');
    expect({ ...config.database }).not.toHaveProperty('password');
  });
});

describe('getConfigValue', () => {
  const config = resolve({ application: { greeting: 'hi', flags: { on: false, zero: 0, empty: '', unset: null }, list: ['a'] } });

  it('reads dotted paths', () => {
    expect(getConfigValue(config, 'greeting')).toBe('hi');
    expect(getConfigValue(config, 'flags.on', true)).toBe(false);
    expect(getConfigValue(config, 'flags.zero', 1)).toBe(0);
    expect(getConfigValue(config, 'flags.empty', 'x')).toBe('');
    expect(getConfigValue(config, 'list.0')).toBe('a');
  });

  it('gives the default for missing keys, null values and inherited properties', () => {
    expect(getConfigValue(config, 'missing', 'd')).toBe('d');
    expect(getConfigValue(config, 'flags.unset', 'd')).toBe('d');
    expect(getConfigValue(config, 'greeting.length', 'd')).toBe('d');
    expect(getConfigValue(config, 'constructor', 'd')).toBe('d');
    expect(getConfigValue(config, '__proto__.toString', 'd')).toBe('d');
    expect(getConfigValue(config, 'missing')).toBeUndefined();
  });
});
