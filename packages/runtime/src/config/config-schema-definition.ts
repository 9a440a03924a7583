/**
 * The JSON Schema of `operon-config.yaml`. Every section but `application` rejects unknown keys,
 * so a typo such as `database.hostnme` is an error rather than a silently ignored setting (and a
 * silently embedded database). `scripts/generate-config-validator.mjs` compiles it ahead of time
 * into config-validator.generated.ts, so no process pays for compiling it at startup.
 */
import { DATABASE_CLIENTS, LOG_FORMATS, LOG_LEVELS, NOTIFICATION_MODES, POOLERS, SSL_MODES } from './config-types.js';

/** The subset of JSON Schema this file uses, typed so the helpers below can walk it. */
export interface SchemaNode {
  readonly type?: 'object' | 'array' | 'string' | 'integer' | 'boolean';
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly additionalProperties?: boolean;
  readonly items?: SchemaNode;
  readonly enum?: readonly (string | boolean)[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly pattern?: string;
  /** Used as the "expected" wording where the constraints alone would read badly. */
  readonly description?: string;
}

const section = (properties: Record<string, SchemaNode>): SchemaNode => ({
  type: 'object',
  additionalProperties: false,
  properties,
});
const text: SchemaNode = { type: 'string', minLength: 1 };
const flag: SchemaNode = { type: 'boolean' };
const tcpPort: SchemaNode = { type: 'integer', minimum: 1, maximum: 65535 };
const commands: SchemaNode = { type: 'array', items: { type: 'string' } };

export const CONFIG_SCHEMA: SchemaNode = section({
  database: section({
    hostname: text,
    port: tcpPort,
    username: text,
    // May be '' (no password: libpq then consults ~/.pgpass or trust authentication).
    password: { type: 'string' },
    user_database: text,
    system_database: text,
    connectionTimeoutMillis: { type: 'integer', minimum: 0 },
    poolSize: { type: 'integer', minimum: 1, maximum: 1000 },
    ssl: {
      enum: [true, false, ...SSL_MODES],
      description: `true, false or an sslmode (${SSL_MODES.join(', ')})`,
    },
    sslrootcert: text,
    pooler: { type: 'string', enum: POOLERS },
    notifications: { type: 'string', enum: NOTIFICATION_MODES },
    listenUrl: { type: 'string', pattern: '^postgres(ql)?://', description: 'a postgres:// or postgresql:// URL' },
    pollIntervalMs: { type: 'integer', minimum: 10, maximum: 60_000 },
    client: { type: 'string', enum: DATABASE_CLIENTS },
    migrate: commands,
    rollback: commands,
  }),
  runtimeConfig: section({
    port: tcpPort,
    host: text,
    entrypoint: text,
    bodyLimitBytes: { type: 'integer', minimum: 1 },
    maxJsonDepth: { type: 'integer', minimum: 1, maximum: 10_000 },
    requestTimeoutMs: { type: 'integer', minimum: 1, maximum: 3_600_000 },
    maxRecoveryAttempts: { type: 'integer', minimum: 1 },
    shutdownGraceMs: { type: 'integer', minimum: 0, maximum: 3_600_000 },
    leaseMs: { type: 'integer', minimum: 1_000, maximum: 3_600_000 },
    heartbeatIntervalMs: { type: 'integer', minimum: 100, maximum: 1_200_000 },
  }),
  telemetry: section({
    logs: section({ logLevel: { type: 'string', enum: LOG_LEVELS }, format: { type: 'string', enum: LOG_FORMATS } }),
    traces: section({
      enabled: flag,
      endpoint: { type: 'string', pattern: '^https?://', description: 'an http:// or https:// URL' },
    }),
  }),
  authentication: section({
    jwt: section({
      // RFC 7518 §3.2: an HS256 key must be at least as long as the hash (256 bits).
      secret: { type: 'string', minLength: 32, description: 'a string of at least 32 characters' },
      jwksUrl: { type: 'string', pattern: '^https?://', description: 'an http:// or https:// URL' },
      issuer: text,
      audience: text,
      rolesClaim: text,
      userClaim: text,
      requireExp: flag,
      maxTokenAgeSeconds: { type: 'integer', minimum: 1 },
      clockToleranceSeconds: { type: 'integer', minimum: 0, maximum: 3600 },
    }),
  }),
  management: section({
    // A bearer token guessed in fewer than 2^128 tries is no protection for an admin API.
    token: { type: 'string', minLength: 16, description: 'a string of at least 16 characters' },
    jwt: flag,
    stuckAfterSeconds: { type: 'integer', minimum: 1 },
    retentionDays: { type: 'integer', minimum: 1 },
    // A cancel's or resume's time limits; at most what a timer (and statement_timeout) can wait for.
    appDeadlineMs: { type: 'integer', minimum: 1, maximum: 2_147_483_647 },
    systemDeadlineMs: { type: 'integer', minimum: 1, maximum: 2_147_483_647 },
  }),
  // Free-form: whatever the app reads with ctx.getConfig.
  application: { type: 'object' },
});
