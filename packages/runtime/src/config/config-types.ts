/**
 * The two stages of `operon-config.yaml`: what a user may write (every field optional), and the
 * resolved, frozen config the runtime codes against (every field present). Keeping them apart means
 * no code downstream of the loader ever asks "was this set?" (Temporal's WorkerOptions →
 * CompiledWorkerOptions). docs/configuration.md is the user-facing reference for both.
 */

/** The log levels pino understands, plus `silent`. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

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
  /** @default env PGPASSWORD, else 'postgres' for the embedded server and '' (no password) otherwise */
  password?: string;
  /** The app's own database, where transactions run.
   * @default env PGDATABASE, else the app's package.json name sanitised to [a-z0-9_], else 'operon_app' */
  user_database?: string;
  /** The database that holds Operon's workflow records.
   * @default `${user_database}_operon_sys` */
  system_database?: string;
  /** @default 3000 */
  connectionTimeoutMillis?: number;
  /** Maximum connections per pool. An extension over SPEC §8.
   * @default 20 */
  poolSize?: number;
  /** Connect with TLS.
   * @default false (true when `sslmode` in DATABASE_URL or PGSSLMODE asks for it) */
  ssl?: boolean;
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
}

/** `telemetry:` as written. */
export interface TelemetryConfigInput {
  logs?: {
    /** The CLI's `-l` wins over it.
     * @default 'info' */
    logLevel?: LogLevel;
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
}

/** `authentication:` as written. */
export interface AuthenticationConfigInput {
  /** @default undefined (no JWT settings: `jwtAuthenticator()` must then be given its options in code) */
  jwt?: JwtConfigInput;
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
  /** Non-enumerable, so `JSON.stringify` and `console.log` of the config never show it. */
  readonly password: string;
  readonly user_database: string;
  readonly system_database: string;
  readonly connectionTimeoutMillis: number;
  readonly poolSize: number;
  readonly ssl: boolean;
  readonly migrate: readonly string[];
  readonly rollback: readonly string[];
}

export interface ResolvedRuntimeConfig {
  readonly port: number;
  readonly host: string;
  /** Absolute: resolved against {@link OperonConfig.appDir}. */
  readonly entrypoint: string;
  readonly bodyLimitBytes: number;
  /** Which process owns a workflow, for recovery: env `OPERON_EXECUTOR_ID`, else 'local'. */
  readonly executorId: string;
}

export interface ResolvedTelemetryConfig {
  readonly logs: { readonly logLevel: LogLevel };
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
}

export interface ResolvedAuthenticationConfig {
  readonly jwt: ResolvedJwtConfig | undefined;
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
  readonly application: Readonly<Record<string, unknown>>;
}
