/**
 * The two stages of `operon-config.yaml`: what a user may write (every field optional), and the
 * resolved, frozen config the runtime codes against (every field present). Keeping them apart means
 * no code downstream of the loader ever asks "was this set?" (Temporal's WorkerOptions →
 * CompiledWorkerOptions). docs/configuration.md is the user-facing reference for both.
 */

/** The log levels pino understands, plus `silent`. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How `operon start` writes log lines: `pretty` coloured text, `json` pino JSON, `auto` pretty on a terminal. */
export const LOG_FORMATS = ['auto', 'pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * libpq's `sslmode` values, with node-postgres's meaning: `disable` is no TLS; `prefer`, `require`
 * and `verify-full` use TLS and check the certificate chain and the host name; `verify-ca` checks
 * the chain against `sslrootcert` only; `no-verify` uses TLS and checks nothing (and is the only one).
 */
export const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export const POOLERS = ['none', 'transaction'] as const;
export type Pooler = (typeof POOLERS)[number];
export const NOTIFICATION_MODES = ['listen', 'poll'] as const;
/** What `ctx.client` of a transaction is: `pg`'s client, or a query builder or ORM bound to it. */
export const DATABASE_CLIENTS = ['pg', 'knex', 'kysely', 'drizzle'] as const;
export type DatabaseClientKind = (typeof DATABASE_CLIENTS)[number];
export type NotificationMode = (typeof NOTIFICATION_MODES)[number];

/** Where the LISTEN connection goes when it is not the main connection's server. */
export interface ListenConnection {
  readonly hostname: string;
  readonly port: number;
  readonly username: string;
  /** Non-enumerable, as the main password. */
  readonly password: string;
  readonly ssl: SslMode;
}

/**
 * `database:` as written. Each field falls back to the environment (libpq variables, or
 * `DATABASE_URL`), then to its default: see {@link ResolvedDatabaseConfig}.
 */
export interface DatabaseConfigInput {
  /** The Postgres server. Absent (and no `PGHOST`/`DATABASE_URL`): Operon runs an embedded Postgres.
   * @default env PGHOST, else 'localhost' (embedded) */
  hostname?: string;
  /** @default env PGPORT, else 5432 */
  port?: number;
  /** @default env PGUSER, else 'postgres' */
  username?: string;
  /** The password of your own server; the embedded Postgres uses the one it generated (`.operon/pgpassword`).
   * @default env PGPASSWORD, else '' (no password: libpq then consults ~/.pgpass) */
  password?: string;
  /** The app's own database, where transactions run.
   * @default env PGDATABASE, else the app's package.json name sanitised to [a-z0-9_], else 'operon_app' */
  user_database?: string;
  /** The database that holds Operon's workflow records.
   * @default `${user_database}_operon_sys` */
  system_database?: string;
  /** @default 3000 */
  connectionTimeoutMillis?: number;
  /** Maximum connections per pool. Beyond the documented keys of the `database` section.
   * @default 20 */
  poolSize?: number;
  /** TLS to your own server: an `sslmode` ({@link SSL_MODES}), or `true` (`verify-full`) / `false` (`disable`).
   * @default `sslmode` of DATABASE_URL, else env PGSSLMODE, else 'disable' */
  ssl?: boolean | SslMode;
  /** A PEM file of the certificate authorities to trust for TLS, relative to the config file's folder.
   * @default `sslrootcert` of DATABASE_URL, else env PGSSLROOTCERT, else the system's trusted CAs */
  sslrootcert?: string;
  /** `transaction` when Operon connects through a transaction-mode pooler (PgBouncer, Supavisor, RDS
   * Proxy): no named prepared statements, no session settings (read-only sessions are made
   * read-only per transaction), and notifications polled unless `listenUrl` names a direct connection.
   * @default 'none' */
  pooler?: Pooler;
  /** How waiting workflows hear of messages and events sent by other processes: `listen` (one
   * LISTEN connection per process) or `poll` (one check of every waited-for message and event each
   * `pollIntervalMs`, for poolers and proxies that cannot carry LISTEN).
   * @default 'poll' with `pooler: transaction` and no `listenUrl`, else 'listen' */
  notifications?: NotificationMode;
  /** A postgres:// URL of a direct (not pooled) connection to the server, for the LISTEN connection
   * and notifications: host, port, user, password and sslmode come from it; the database is always
   * the system database. @default the main connection */
  listenUrl?: string;
  /** With `notifications: poll`, how often waiting workflows look for what they wait for (one
   * round trip for all of a process's waits). @default 100 */
  pollIntervalMs?: number;
  /** What a transaction's `ctx.client` is: `pg` (a node-postgres client), or a `knex`, `kysely` or
   * `drizzle` handle bound to the transaction's own connection (the app installs that package).
   * @default 'pg' */
  client?: DatabaseClientKind;
  /** Shell commands `operon migrate` runs, in order, after the app's `migrations/*.sql`.
   * @default [] */
  migrate?: string[];
  /** Shell commands `operon rollback` runs, in order.
   * @default [] */
  rollback?: string[];
}

/** `runtimeConfig:` as written. */
export interface RuntimeConfigInput {
  /** The HTTP port. The CLI's `-p` wins over it.
   * @default 3000 */
  port?: number;
  /** The address the HTTP server binds to.
   * @default '0.0.0.0' */
  host?: string;
  /** The bundle `operon build` writes and `operon start` loads, relative to the config file's folder.
   * @default 'dist/operations.js' */
  entrypoint?: string;
  /** The largest request body the HTTP server accepts.
   * @default 1048576 */
  bodyLimitBytes?: number;
  /** The deepest nesting of arrays and objects a JSON request body may have; a deeper one gets 400
   * before it is parsed (deep values overflow the stack where they are recorded or logged).
   * @default 1000 */
  maxJsonDepth?: number;
  /** How long a client may take to send a whole request (headers and body); a slower one gets 408
   * and its connection is closed, so trickled requests cannot hold connections open.
   * @default 30000 */
  requestTimeoutMs?: number;
  /** A workflow recovered this many times without ending (each run cut off, as by a crash it
   * causes itself) becomes RETRIES_EXCEEDED and is not recovered again, so it cannot keep the
   * runtime from serving. A graceful stop does not count.
   * @default 5 */
  maxRecoveryAttempts?: number;
  /** On SIGTERM, how long running workflows may go on before the rest are handed over to other
   * executors (which resume them from their records at once); no error reaches their code.
   * @default 10000 */
  shutdownGraceMs?: number;
  /** How long this executor's lease lasts without a heartbeat: once it lapses, other executors
   * declare it dead and adopt its workflows.
   * @default 6000 */
  leaseMs?: number;
  /** How often this executor heartbeats; at most a third of leaseMs.
   * @default a third of leaseMs */
  heartbeatIntervalMs?: number;
}

/** `telemetry:` as written. */
export interface TelemetryConfigInput {
  logs?: {
    /** The CLI's `-l` wins over it.
     * @default 'info' */
    logLevel?: LogLevel;
    /** `OPERON_LOG_FORMAT` wins over it.
     * @default 'auto' */
    format?: LogFormat;
  };
  traces?: {
    /** Export OpenTelemetry spans by OTLP/HTTP.
     * @default false */
    enabled?: boolean;
    /** @default 'http://localhost:4318/v1/traces' */
    endpoint?: string;
  };
}

/**
 * `authentication.jwt:` as written: the settings of `jwtAuthenticator()`, the ready-made bearer
 * JWT authenticator. Exactly one of `secret` and `jwksUrl` is required.
 */
export interface JwtConfigInput {
  /** The HS256/HS384/HS512 shared secret, at least 32 characters (RFC 7518 §3.2). Usually `${JWT_SECRET}`. */
  secret?: string;
  /** The URL of the issuer's JSON Web Key Set (RS*, PS*, ES*, EdDSA keys), fetched and cached. */
  jwksUrl?: string;
  /** When set, the token's `iss` must equal it. */
  issuer?: string;
  /** When set, the token's `aud` must contain it. */
  audience?: string;
  /** The claim that lists the caller's roles (an array, or a space-separated string); a dotted path reaches into objects.
   * @default 'roles' */
  rolesClaim?: string;
  /** The claim that names the caller.
   * @default 'sub' */
  userClaim?: string;
  /** Refuse a token without an `exp` claim (one that would be valid forever).
   * @default true */
  requireExp?: boolean;
  /** When set, refuse a token issued (`iat`) longer ago than this, whatever its `exp`; a token without `iat` is then refused.
   * @default undefined (no limit beyond `exp`) */
  maxTokenAgeSeconds?: number;
  /** How far the issuer's clock may be off when checking `exp`, `nbf` and `iat`.
   * @default 0 */
  clockToleranceSeconds?: number;
}

/** `authentication:` as written. */
export interface AuthenticationConfigInput {
  /** @default undefined (no JWT settings: `jwtAuthenticator()` must then be given its options in code) */
  jwt?: JwtConfigInput;
}

/** `management:` as written: who may use the `/operon/*` routes, and when a workflow counts as stuck. */
export interface ManagementConfigInput {
  /** A bearer token granting `operon-admin`; write `${OPERON_ADMIN_TOKEN}` rather than the token itself.
   * @default undefined */
  token?: string;
  /** Identify callers by the app's JWT settings (`authentication.jwt`), roles from its claim.
   * @default false */
  jwt?: boolean;
  /** A PENDING workflow without progress for this long, not waiting on a timer or a message, is `stuck`.
   * @default 300 */
  stuckAfterSeconds?: number;
  /** Ended workflows (and everything recorded for them) older than this many days are deleted,
   * in small batches that never hold up running work.
   * @default undefined (keep everything) */
  retentionDays?: number;
  /** How long a cancel or resume may wait for the app database (marking or clearing its fence rows) while it holds its workflows' system rows locked.
   * @default 5000 */
  appDeadlineMs?: number;
  /** How long a cancel or resume may take on the system database to read, lock and change its workflows' rows.
   * @default 5000 */
  systemDeadlineMs?: number;
}

/** The whole of `operon-config.yaml` as written (after `${VAR}` substitution). */
export interface OperonConfigInput {
  /** @default {} (the embedded Postgres with default settings) */
  database?: DatabaseConfigInput;
  /** @default {} */
  runtimeConfig?: RuntimeConfigInput;
  /** @default {} */
  telemetry?: TelemetryConfigInput;
  /** @default {} */
  authentication?: AuthenticationConfigInput;
  /** @default {} */
  management?: ManagementConfigInput;
  /** Free-form values the app reads with `ctx.getConfig('a.b')`.
   * @default {} */
  application?: Record<string, unknown>;
}

export interface ResolvedDatabaseConfig {
  /** True when neither the file, `PGHOST` nor `DATABASE_URL` names a host: Operon runs an embedded Postgres. */
  readonly embedded: boolean;
  readonly hostname: string;
  /** For the embedded server too: the port it listens on. */
  readonly port: number;
  readonly username: string;
  /** Non-enumerable, so `JSON.stringify` and `console.log` of the config never show it. '' for the
   * embedded Postgres, whose generated password the runtime reads from `.operon/pgpassword`. */
  readonly password: string;
  readonly user_database: string;
  readonly system_database: string;
  readonly connectionTimeoutMillis: number;
  readonly poolSize: number;
  /** Always 'disable' for the embedded Postgres (it listens on 127.0.0.1 only). */
  readonly ssl: SslMode;
  /** Absolute path, or undefined. */
  readonly sslrootcert: string | undefined;
  readonly pooler: Pooler;
  readonly notifications: NotificationMode;
  /** The direct connection for LISTEN and NOTIFY; undefined: the main connection. */
  readonly listen: ListenConnection | undefined;
  readonly pollIntervalMs: number;
  readonly client: DatabaseClientKind;
  readonly migrate: readonly string[];
  readonly rollback: readonly string[];
}

export interface ResolvedRuntimeConfig {
  readonly port: number;
  readonly host: string;
  /** Absolute: resolved against {@link OperonConfig.appDir}. */
  readonly entrypoint: string;
  readonly bodyLimitBytes: number;
  readonly maxJsonDepth: number;
  readonly requestTimeoutMs: number;
  readonly maxRecoveryAttempts: number;
  readonly shutdownGraceMs: number;
  readonly leaseMs: number;
  readonly heartbeatIntervalMs: number;
  /**
   * This process's executor id: env `OPERON_EXECUTOR_ID`, else undefined, and one is generated at
   * start. Unique among live executors: a second live process with an explicit id already held
   * refuses to start.
   */
  readonly executorId: string | undefined;
}

export interface ResolvedTelemetryConfig {
  readonly logs: { readonly logLevel: LogLevel; readonly format: LogFormat };
  readonly traces: { readonly enabled: boolean; readonly endpoint: string };
}

export interface ResolvedJwtConfig {
  /** Non-enumerable, so `JSON.stringify`, `console.log` and pino never show it. */
  readonly secret: string | undefined;
  readonly jwksUrl: string | undefined;
  readonly issuer: string | undefined;
  readonly audience: string | undefined;
  readonly rolesClaim: string;
  readonly userClaim: string;
  readonly requireExp: boolean;
  readonly maxTokenAgeSeconds: number | undefined;
  readonly clockToleranceSeconds: number;
}

export interface ResolvedAuthenticationConfig {
  readonly jwt: ResolvedJwtConfig | undefined;
}

export interface ResolvedManagementConfig {
  /** Non-enumerable, so `JSON.stringify`, `console.log` and pino never show it. */
  readonly token: string | undefined;
  readonly jwt: boolean;
  readonly stuckAfterSeconds: number;
  /** undefined: keep every workflow. */
  readonly retentionDays: number | undefined;
  readonly appDeadlineMs: number;
  readonly systemDeadlineMs: number;
}

/** The resolved config: every field present, deep-frozen. */
export interface OperonConfig {
  /** Absolute path of the config file ('' when resolved from an object). */
  readonly file: string;
  /** The app's folder: the config file's folder. */
  readonly appDir: string;
  readonly database: ResolvedDatabaseConfig;
  readonly runtimeConfig: ResolvedRuntimeConfig;
  readonly telemetry: ResolvedTelemetryConfig;
  readonly authentication: ResolvedAuthenticationConfig;
  readonly management: ResolvedManagementConfig;
  readonly application: Readonly<Record<string, unknown>>;
}
