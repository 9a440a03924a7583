/**
 * Loads `operon-config.yaml` in stages, each with its own type (STYLE "Configuration"):
 * text → YAML tree → `${VAR}` substitution and coercion → schema validation (every error at once)
 * → defaults and environment (libpq precedence) → CLI overrides → a deep-frozen {@link OperonConfig}.
 * Every failure is an {@link OperonConfigError} whose message names the file, key and expectation.
 */
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import YAML, { type YAMLError } from 'yaml';
import { OperonConfigError, configIssue, formatKeyPath, type ConfigIssue } from './config-error.js';
import { describeKind, describeValue, dropNullsAtKnownKeys, validateConfig, type DescribeFound } from './config-schema.js';
import {
  LOG_LEVELS,
  SSL_MODES,
  type DatabaseConfigInput,
  type ListenConnection,
  type LogLevel,
  type LogFormat,
  LOG_FORMATS,
  type OperonConfig,
  type OperonConfigInput,
  type JwtConfigInput,
  type ManagementConfigInput,
  type ResolvedManagementConfig,
  type ResolvedDatabaseConfig,
  type ResolvedJwtConfig,
  type SslMode,
} from './config-types.js';
import { coerceWholeReferences, isPlainObject, substituteEnv, type WholeReference } from './env-substitution.js';
import { LEASE_MS } from '../executor/executor-lease.js';

/** Values from CLI flags (`-p`, `-l`); they win over the file. */
export interface ConfigOverrides {
  port?: number;
  logLevel?: string;
}

export interface LoadConfigOptions {
  /** Where `${VAR}`, `PG*`, `DATABASE_URL` and `OPERON_EXECUTOR_ID` come from. @default process.env */
  env?: NodeJS.ProcessEnv;
  overrides?: ConfigOverrides;
}

interface Source {
  /** How messages name the file: as the user gave it. */
  readonly label: string;
  readonly file: string;
  readonly appDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly overrides: ConfigOverrides;
}

/** Reads, validates and resolves the config file at `configPath` (relative to the working directory). */
export function loadConfig(configPath: string, options: LoadConfigOptions = {}): OperonConfig {
  const file = resolve(configPath);
  const data = parseYaml(configPath, readConfigText(configPath, file));
  const env = options.env ?? process.env;
  return resolveWith(data, { label: configPath, file, appDir: dirname(file), env, overrides: options.overrides ?? {} });
}

/** Validates and resolves a config given as an object (what the YAML would parse to). */
export function resolveConfig(input: unknown, source: { file: string; appDir: string; env?: NodeJS.ProcessEnv }): OperonConfig {
  return resolveWith(input, {
    label: source.file === '' ? 'config' : source.file,
    file: source.file === '' ? '' : resolve(source.file),
    appDir: resolve(source.appDir),
    env: source.env ?? process.env,
    overrides: {},
  });
}

/**
 * Reads `a.b.c` from the `application` section (what `ctx.getConfig` returns). A missing key, or
 * one written with no value (YAML null), gives `defaultValue`; `false`, `0` and `''` are values.
 */
export function getConfigValue<T>(config: Pick<OperonConfig, 'application'>, key: string, defaultValue?: T): T | undefined {
  let node: unknown = config.application;
  for (const segment of key.split('.')) {
    // Own properties only, so `constructor` or `__proto__` never reach Object.prototype.
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, segment)) return defaultValue;
    node = (node as Record<string, unknown>)[segment];
  }
  return node === null || node === undefined ? defaultValue : (node as T);
}

function readConfigText(label: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    const detail =
      code === 'ENOENT' ? 'config file not found (run operon init, or pass -c <file>)' : `cannot read the config file (${code})`;
    throw new OperonConfigError(label, [{ key: '', expected: 'a readable config file', got: code, detail }]);
  }
}

function parseYaml(label: string, text: string): unknown {
  // Warnings are errors too: `password: !env X` would otherwise quietly become the string "X".
  const doc = YAML.parseDocument(text);
  const problem: YAMLError | undefined = doc.errors[0] ?? doc.warnings[0];
  if (problem !== undefined) {
    // The yaml package appends the offending source line; drop it, it may hold a password.
    const reason = problem.message.replace(/ at line \d+, column \d+[\s\S]*$/, '');
    const at = problem.linePos?.[0];
    throw new OperonConfigError(label, [
      { key: '', expected: 'valid YAML', got: reason, detail: `invalid YAML: ${reason}`, line: at?.line, column: at?.col },
    ]);
  }
  try {
    return doc.toJS();
  } catch (error) {
    // For example an alias to an anchor that does not exist.
    const reason = (error as Error).message;
    throw new OperonConfigError(label, [{ key: '', expected: 'valid YAML', got: reason, detail: `invalid YAML: ${reason}` }]);
  }
}

function resolveWith(input: unknown, source: Source): OperonConfig {
  const substitution = substituteEnv(input ?? {}, source.env);
  const data = substitution.value;
  coerceWholeReferences(data, substitution.wholeReferences);
  dropNullsAtKnownKeys(data);
  // An unset variable also makes its value the wrong type; report the cause, once.
  const reported = new Set(substitution.issues.map((issue) => issue.key));
  const schemaIssues = validateConfig(data, describeFound(substitution.wholeReferences));
  const issues = [...substitution.issues, ...schemaIssues.filter((issue) => !reported.has(issue.key))];
  if (issues.length === 0) issues.push(...jwtKeyIssues(data as OperonConfigInput), ...managementJwtIssues(data as OperonConfigInput), ...heartbeatIssues(data as OperonConfigInput));
  if (issues.length > 0) throw new OperonConfigError(source.label, issues);
  return deepFreeze(withDefaults(data as OperonConfigInput, source));
}

/** Shows a found value, naming the variable it came from and hiding anything secret. */
function describeFound(references: readonly WholeReference[]): DescribeFound {
  const origins = new Map(references.map((ref) => [formatKeyPath(ref.path), ref.variable]));
  return (path, value) => {
    const variable = origins.get(formatKeyPath(path));
    const last = path[path.length - 1];
    const secret = last === 'password' || last === 'secret' || last === 'listenUrl' || /PASSWORD|SECRET|TOKEN/i.test(variable ?? '');
    const shown = secret ? `${describeKind(value)} (not shown)` : describeValue(value);
    return variable === undefined ? shown : `${shown} (from \${${variable}})`;
  };
}

function withDefaults(input: OperonConfigInput, source: Source): OperonConfig {
  const runtime = input.runtimeConfig ?? {};
  const logs = input.telemetry?.logs ?? {};
  const traces = input.telemetry?.traces ?? {};
  return {
    file: source.file,
    appDir: source.appDir,
    database: resolveDatabase(input.database ?? {}, source),
    runtimeConfig: {
      port: overridePort(source.overrides.port) ?? runtime.port ?? 3000,
      // All interfaces, so the server is reachable from outside a container by default.
      host: runtime.host ?? '0.0.0.0',
      entrypoint: resolve(source.appDir, runtime.entrypoint ?? 'dist/operations.js'),
      bodyLimitBytes: runtime.bodyLimitBytes ?? 1048576,
      maxJsonDepth: runtime.maxJsonDepth ?? 1000,
      requestTimeoutMs: runtime.requestTimeoutMs ?? 30_000,
      maxRecoveryAttempts: runtime.maxRecoveryAttempts ?? 5,
      shutdownGraceMs: runtime.shutdownGraceMs ?? 10_000,
      leaseMs: runtime.leaseMs ?? LEASE_MS,
      heartbeatIntervalMs: runtime.heartbeatIntervalMs ?? Math.floor((runtime.leaseMs ?? LEASE_MS) / 3),
      executorId: nonEmpty(source.env['OPERON_EXECUTOR_ID']),
    },
    telemetry: {
      logs: { logLevel: overrideLogLevel(source.overrides.logLevel) ?? logs.logLevel ?? 'info', format: envLogFormat(source.env) ?? logs.format ?? 'auto' },
      traces: { enabled: traces.enabled ?? false, endpoint: traces.endpoint ?? 'http://localhost:4318/v1/traces' },
    },
    authentication: { jwt: resolveJwt(input.authentication?.jwt) },
    management: resolveManagement(input.management),
    application: input.application ?? {},
  };
}

/** `authentication.jwt` needs one way to verify signatures: a shared secret or a key set, not both. */
function jwtKeyIssues(input: OperonConfigInput): ConfigIssue[] {
  const jwt = input.authentication?.jwt;
  if (jwt === undefined) return [];
  const hasSecret = jwt.secret !== undefined;
  const hasJwks = jwt.jwksUrl !== undefined;
  if (hasSecret !== hasJwks) return [];
  const expected = 'exactly one of secret and jwksUrl';
  const got = hasSecret ? 'both' : 'neither';
  return [{ ...configIssue('authentication.jwt', expected, got), detail: `authentication.jwt must set ${expected}, got ${got}` }];
}

/** `management.jwt: true` verifies tokens with `authentication.jwt`: without it no token could pass. */
function managementJwtIssues(input: OperonConfigInput): ConfigIssue[] {
  if (input.management?.jwt !== true || input.authentication?.jwt !== undefined) return [];
  const expected = 'authentication.jwt settings to verify tokens with';
  return [{ ...configIssue('management.jwt', expected, 'none'), detail: 'management.jwt is true but authentication.jwt is not set: set its secret or jwksUrl' }];
}

/** A lease renewed less than three times per lease length lapses at the first late heartbeat. */
function heartbeatIssues(input: OperonConfigInput): ConfigIssue[] {
  const runtime = input.runtimeConfig;
  if (runtime?.heartbeatIntervalMs === undefined) return [];
  const leaseMs = runtime.leaseMs ?? LEASE_MS;
  if (runtime.heartbeatIntervalMs * 3 <= leaseMs) return [];
  const expected = `at most a third of runtimeConfig.leaseMs (${leaseMs}${runtime.leaseMs === undefined ? ', the default' : ''})`;
  return [configIssue('runtimeConfig.heartbeatIntervalMs', expected, String(runtime.heartbeatIntervalMs))];
}

function resolveManagement(management: ManagementConfigInput | undefined): ResolvedManagementConfig {
  const resolved: ResolvedManagementConfig = {
    token: management?.token,
    jwt: management?.jwt ?? false,
    stuckAfterSeconds: management?.stuckAfterSeconds ?? 300,
    retentionDays: management?.retentionDays,
    // As management/workflow-changes.ts's APP_DATABASE_DEADLINE_MS and SYSTEM_DATABASE_DEADLINE_MS.
    appDeadlineMs: management?.appDeadlineMs ?? 5_000,
    systemDeadlineMs: management?.systemDeadlineMs ?? 5_000,
  };
  return Object.defineProperty(resolved, 'token', { enumerable: false });
}

function resolveJwt(jwt: JwtConfigInput | undefined): ResolvedJwtConfig | undefined {
  if (jwt === undefined) return undefined;
  const resolved: ResolvedJwtConfig = {
    secret: jwt.secret,
    jwksUrl: jwt.jwksUrl,
    issuer: jwt.issuer,
    audience: jwt.audience,
    rolesClaim: jwt.rolesClaim ?? 'roles',
    userClaim: jwt.userClaim ?? 'sub',
    requireExp: jwt.requireExp ?? true,
    maxTokenAgeSeconds: jwt.maxTokenAgeSeconds,
    clockToleranceSeconds: jwt.clockToleranceSeconds ?? 0,
  };
  // Non-enumerable, as the database password: no log line or JSON dump of the config shows it.
  return Object.defineProperty(resolved, 'secret', { enumerable: false });
}

/**
 * Each setting: the file, then `DATABASE_URL` (only when the file names no hostname), then the
 * libpq variables, then the default, as node-postgres does. Empty variables count as unset.
 */
function resolveDatabase(db: DatabaseConfigInput, source: Source): ResolvedDatabaseConfig {
  const env = (name: string) => nonEmpty(source.env[name]);
  const url = db.hostname === undefined ? parseDatabaseUrl(env('DATABASE_URL')) : {};
  const hostname = db.hostname ?? url.hostname ?? env('PGHOST');
  const embedded = hostname === undefined;
  if (embedded) assertNotSetForEmbedded(db, source);
  const user_database = db.user_database ?? url.user_database ?? env('PGDATABASE') ?? defaultDatabaseName(source.appDir);
  // The embedded server has a password of its own, generated at its first start, which the runtime
  // reads from .operon/: a PGPASSWORD meant for some other server does not apply to it. An
  // external server without one gets '' and libpq's own fallbacks (~/.pgpass, trust).
  const password = embedded ? '' : (db.password ?? url.password ?? env('PGPASSWORD') ?? '');
  // Read (and a bad PGSSLMODE reported) in either case; the embedded server has no TLS to use.
  const sslmode = sslOfFile(db.ssl) ?? url.ssl ?? sslFromMode('PGSSLMODE', env('PGSSLMODE')) ?? 'disable';
  const ssl: SslMode = embedded ? 'disable' : sslmode;
  const sslrootcert = embedded ? undefined : rootCertOf(db, url, env('PGSSLROOTCERT'), source);
  if (ssl === 'verify-ca' && sslrootcert === undefined) {
    const issue = configIssue('database.sslrootcert', 'a CA file when database.ssl is verify-ca', 'unset');
    throw new OperonConfigError(source.label, [
      {
        ...issue,
        detail:
          'database.ssl verify-ca checks the server certificate against database.sslrootcert only (not its host name): ' +
          'set database.sslrootcert (or PGSSLROOTCERT) to the CA file, or use verify-full',
      },
    ]);
  }
  const resolved: ResolvedDatabaseConfig = {
    embedded,
    hostname: hostname ?? 'localhost',
    port: db.port ?? url.port ?? envPort(env('PGPORT')) ?? 5432,
    username: db.username ?? url.username ?? env('PGUSER') ?? 'postgres',
    password,
    user_database,
    system_database: db.system_database ?? `${user_database}_operon_sys`,
    connectionTimeoutMillis: db.connectionTimeoutMillis ?? 3000,
    poolSize: db.poolSize ?? 20,
    ssl,
    sslrootcert,
    ...notificationsOf(db, { username: db.username ?? url.username ?? env('PGUSER') ?? 'postgres', password, ssl }, source),
    client: db.client ?? 'pg',
    migrate: db.migrate ?? [],
    rollback: db.rollback ?? [],
  };
  // Non-enumerable, as in node-postgres: JSON.stringify, console.log and pino never see it.
  return Object.defineProperty(resolved, 'password', { enumerable: false });
}

/**
 * How notifications travel. LISTEN needs a session of its own, which a transaction pooler cannot
 * give: through one, notifications are polled unless `listenUrl` names a direct connection.
 */
function notificationsOf(
  db: DatabaseConfigInput,
  main: { username: string; password: string; ssl: SslMode },
  source: Source,
): Pick<ResolvedDatabaseConfig, 'pooler' | 'notifications' | 'listen' | 'pollIntervalMs'> {
  const pooler = db.pooler ?? 'none';
  const listen = db.listenUrl === undefined ? undefined : listenConnectionOf(db.listenUrl, main, source);
  const notifications = db.notifications ?? (pooler === 'transaction' && listen === undefined ? 'poll' : 'listen');
  if (pooler === 'transaction' && notifications === 'listen' && listen === undefined) {
    throw new OperonConfigError(source.label, [
      {
        ...configIssue('database.notifications', "'poll', or a database.listenUrl, with database.pooler: transaction", "'listen'"),
        detail:
          'database.notifications is listen, but a transaction pooler (database.pooler) gives no session of its own to LISTEN on: ' +
          'set database.listenUrl to a direct connection to the server, or database.notifications to poll',
      },
    ]);
  }
  return { pooler, notifications, listen, pollIntervalMs: db.pollIntervalMs ?? 100 };
}

/** The direct connection of `listenUrl`; what it leaves out comes from the main connection. */
function listenConnectionOf(raw: string, main: { username: string; password: string; ssl: SslMode }, source: Source): ListenConnection {
  const invalid = () =>
    new OperonConfigError(source.label, [configIssue('database.listenUrl', 'a postgres:// URL with a host name', 'something else (not shown)')]);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid();
  }
  let hostname: string | undefined;
  try {
    hostname = nonEmpty(decodeURIComponent(url.hostname).replace(/^\[(.*)\]$/, '$1'));
  } catch {
    throw invalid();
  }
  if (hostname === undefined) throw invalid();
  const port = url.port === '' ? 5432 : Number(url.port);
  const listen: ListenConnection = {
    hostname,
    port,
    username: nonEmpty(decodeURIComponent(url.username)) ?? main.username,
    password: nonEmpty(decodeURIComponent(url.password)) ?? main.password,
    ssl: sslFromMode('database.listenUrl sslmode', url.searchParams.get('sslmode') ?? undefined) ?? main.ssl,
  };
  return Object.defineProperty(listen, 'password', { enumerable: false });
}

/**
 * Settings that only mean something for your own server are errors in the file without a
 * hostname, rather than silently ignored: the embedded Postgres listens on 127.0.0.1 without TLS,
 * and its password is the random one it made at its first start.
 */
function assertNotSetForEmbedded(db: DatabaseConfigInput, source: Source): void {
  const issues: ConfigIssue[] = [];
  const forOwnServer = (key: string, why: string) =>
    issues.push({
      ...configIssue(`database.${key}`, 'unset without database.hostname', 'a value'),
      detail: `database.${key} applies to your own Postgres server (set database.hostname); ${why}`,
    });
  if (db.password !== undefined) {
    forOwnServer('password', 'the embedded Postgres uses the random password it made at its first start, kept in .operon/pgpassword');
  }
  if (db.ssl !== undefined && db.ssl !== false && db.ssl !== 'disable') {
    forOwnServer('ssl', 'the embedded Postgres listens on 127.0.0.1 only, without TLS');
  }
  if (db.sslrootcert !== undefined) forOwnServer('sslrootcert', 'the embedded Postgres listens on 127.0.0.1 only, without TLS');
  if (db.pooler !== undefined && db.pooler !== 'none') forOwnServer('pooler', 'Operon connects to the embedded Postgres directly');
  if (db.listenUrl !== undefined) forOwnServer('listenUrl', 'Operon connects to the embedded Postgres directly');
  if (issues.length > 0) throw new OperonConfigError(source.label, issues);
}

/** `ssl: true` is the safest mode, as in node-postgres (`ssl: true` verifies); `false` is `disable`. */
function sslOfFile(ssl: DatabaseConfigInput['ssl']): SslMode | undefined {
  if (ssl === undefined) return undefined;
  if (ssl === true) return 'verify-full';
  if (ssl === false) return 'disable';
  return ssl;
}

/** The CA file, absolute, and readable now: a typo is a config error, not a TLS failure at the first connection. */
function rootCertOf(db: DatabaseConfigInput, url: UrlSettings, fromEnv: string | undefined, source: Source): string | undefined {
  const [key, raw, base] =
    db.sslrootcert !== undefined
      ? ['database.sslrootcert', db.sslrootcert, source.appDir]
      : url.sslrootcert !== undefined
        ? ['DATABASE_URL sslrootcert', url.sslrootcert, process.cwd()]
        : ['PGSSLROOTCERT', fromEnv, process.cwd()];
  if (raw === undefined) return undefined;
  const file = resolve(base, raw);
  try {
    accessSync(file, fsConstants.R_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    const issue = configIssue(key, 'a readable PEM file of certificate authorities', `${describeValue(raw)} (${code})`);
    throw new OperonConfigError(key === 'database.sslrootcert' ? source.label : 'environment', [
      { ...issue, detail: `${key} must name a readable PEM file of certificate authorities, got ${describeValue(raw)}: ${file} (${code})` },
    ]);
  }
  return file;
}

type UrlSettings = Partial<Pick<ResolvedDatabaseConfig, 'hostname' | 'port' | 'username' | 'password' | 'user_database' | 'ssl'>> & {
  readonly sslrootcert?: string;
};

function parseDatabaseUrl(raw: string | undefined): UrlSettings {
  if (raw === undefined) return {};
  // Never echo the URL: it usually holds a password.
  const invalid = () => envError('DATABASE_URL', 'a postgres:// or postgresql:// URL', 'something else (not shown)');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid();
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw invalid();
  try {
    // postgres: is not a "special" scheme for WHATWG URLs, so parts arrive still percent-encoded.
    return {
      hostname: nonEmpty(decodeURIComponent(url.hostname).replace(/^\[(.*)\]$/, '$1')),
      port: url.port === '' ? undefined : Number(url.port),
      username: nonEmpty(decodeURIComponent(url.username)),
      password: nonEmpty(decodeURIComponent(url.password)),
      user_database: nonEmpty(decodeURIComponent(url.pathname.slice(1))),
      ssl: sslFromMode('DATABASE_URL sslmode', url.searchParams.get('sslmode') ?? undefined),
      sslrootcert: nonEmpty(url.searchParams.get('sslrootcert') ?? undefined),
    };
  } catch (error) {
    if (error instanceof OperonConfigError) throw error;
    throw invalid(); // malformed percent-encoding
  }
}

function sslFromMode(name: string, mode: string | undefined): SslMode | undefined {
  if (mode === undefined) return undefined;
  if ((SSL_MODES as readonly string[]).includes(mode)) return mode as SslMode;
  throw envError(name, `one of ${SSL_MODES.join(', ')}`, describeValue(mode));
}

function envPort(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65535) throw envError('PGPORT', 'an integer from 1 to 65535', describeValue(raw));
  return port;
}

function envError(name: string, expected: string, got: string): OperonConfigError {
  return new OperonConfigError('environment', [configIssue(name, expected, got)]);
}

function overridePort(port: number | undefined): number | undefined {
  if (port === undefined || (Number.isInteger(port) && port >= 1 && port <= 65535)) return port;
  throw overrideError('runtimeConfig.port', '-p/--port', 'an integer from 1 to 65535', describeValue(port));
}

function overrideLogLevel(level: string | undefined): LogLevel | undefined {
  if (level === undefined || (LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel | undefined;
  throw overrideError('telemetry.logs.logLevel', '-l/--log-level', `one of ${LOG_LEVELS.join(', ')}`, describeValue(level));
}

function envLogFormat(env: NodeJS.ProcessEnv): LogFormat | undefined {
  const format = nonEmpty(env['OPERON_LOG_FORMAT']);
  if (format === undefined || (LOG_FORMATS as readonly string[]).includes(format)) return format as LogFormat | undefined;
  const expected = `one of ${LOG_FORMATS.join(', ')}`;
  const issue: ConfigIssue = { ...configIssue('telemetry.logs.format', expected, describeValue(format)), detail: `OPERON_LOG_FORMAT must be ${expected}, got ${describeValue(format)}` };
  throw new OperonConfigError('environment', [issue]);
}

function overrideError(key: string, flag: string, expected: string, got: string): OperonConfigError {
  const issue: ConfigIssue = { ...configIssue(key, expected, got), detail: `${flag} must be ${expected}, got ${got}` };
  return new OperonConfigError('command line', [issue]);
}

/**
 * The app's package.json name as a Postgres identifier: lower case, [a-z0-9_], not starting with a
 * digit, and at most 52 characters so `<name>_operon_sys` fits Postgres's 63-byte limit (longer
 * names are silently truncated by the server, and two apps could then share a system database).
 */
function defaultDatabaseName(appDir: string): string {
  let name: unknown;
  try {
    name = (JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')) as { name?: unknown }).name;
  } catch {
    return 'operon_app';
  }
  if (typeof name !== 'string') return 'operon_app';
  let id = name.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/_+/g, '_').replace(/^_+/, '');
  if (/^[0-9]/.test(id)) id = `app_${id}`;
  id = id.slice(0, 52).replace(/_+$/, '');
  return id === '' ? 'operon_app' : id;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === '' ? undefined : value;
}

/** Freezes plain objects and arrays all the way down (other objects are left as they are). */
function deepFreeze<T>(value: T): T {
  if (Array.isArray(value) || isPlainObject(value)) {
    for (const key of Object.getOwnPropertyNames(value)) deepFreeze((value as Record<string, unknown>)[key]);
    Object.freeze(value);
  }
  return value;
}
