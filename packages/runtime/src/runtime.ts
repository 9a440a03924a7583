/**
 * One Operon runtime: the databases (embedded or configured), the system schema, the executor and
 * its recovery. `operon start`, the testing runtime and benchmarks all build on this.
 */
import { randomBytes } from 'node:crypto';
import { basename, join } from 'node:path';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { OperonConfig } from './config/config-types.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './database/embedded-postgres.js';
import { createClient, createHeartbeatPool, createPool, ensureDatabaseExists, type ConnectionSettings } from './database/pools.js';
import { FunctionRegistry } from './executor/function-registry.js';
import { WorkflowExecutor } from './executor/workflow-executor.js';
import { WorkflowMessaging } from './executor/workflow-messaging.js';
import { OperonClient } from './client/operon-client.js';
import { DatabaseClock } from './executor/database-clock.js';
import { heartbeatTimeoutMs } from './executor/executor-lease.js';
import type { WorkflowClock } from './executor/workflow-clock.js';
import type { StepSite } from './executor/workflow-execution.js';
import { createLogger } from './logging.js';
import { createTracing, type Tracing } from './telemetry/tracing.js';
import { SystemDatabase, type StoredBundle } from './system-db/system-database.js';
import { scheduledWorkflows, type ScheduledWorkflow } from './schedules/scheduled-workflows.js';
import { Scheduler } from './schedules/scheduler.js';
import { RuntimeMetrics } from './telemetry/runtime-metrics.js';
import { RetentionSweeper } from './management/retention-sweeper.js';
import { LoadedVersions } from './versions/loaded-versions.js';
import { loadTransactionClient } from './database/transaction-clients.js';

export interface RuntimeOptions {
  readonly config: OperonConfig;
  /** The app's decorated classes (for `operon start`, every class the bundle exports). */
  readonly classes: readonly unknown[];
  /**
   * The bundle the classes come from (`operon start`): stored in the system database as this
   * runtime's version, recorded with every workflow it starts. Without one, workflows record no
   * version and run on the code of whichever executor runs them.
   */
  readonly bundle?: StoredBundle;
  readonly logger?: Logger;
  /**
   * For replaying recorded workflows (`operon debug`): every database session is read-only, no
   * database or schema is created or migrated, and no notification listener is started.
   */
  readonly readOnly?: boolean;
  /**
   * Whether this runtime runs workflows: it then registers as an executor (a command that only
   * migrates or reads, such as `operon migrate` or `operon executors`, does not).
   * @default true, unless readOnly
   */
  readonly executes?: boolean;
  /**
   * The workflow clock (executor/workflow-clock.ts): the database's unless given (the testing
   * runtime's virtual clock).
   */
  readonly clock?: WorkflowClock;
  /** Told synchronously when an operation's record is written (the testing runtime's crashAfter). */
  readonly afterRecorded?: (site: StepSite) => void;
}

/** The `application_name` of the notification listener's connection, as pg_stat_activity shows it. */
export const LISTENER_APPLICATION_NAME = 'operon-listener';
/** The `application_name` of the connection that sends notifications. */
export const NOTIFIER_APPLICATION_NAME = 'operon-notifier';

export type RuntimeState = 'initializing' | 'recovering' | 'running' | 'stopping' | 'stopped' | 'failed';

export class OperonRuntime {
  private stateName: RuntimeState = 'initializing';
  /** Deletes old ended workflows while running, when `management.retentionDays` is set. */
  private retention: RetentionSweeper | undefined;

  private constructor(
    readonly config: OperonConfig,
    readonly logger: Logger,
    readonly registry: FunctionRegistry,
    readonly systemDb: SystemDatabase,
    readonly executor: WorkflowExecutor,
    readonly messaging: WorkflowMessaging,
    /** Starts workflows, reads their results, sends messages and reads events from outside any workflow. */
    readonly client: OperonClient,
    readonly connection: ConnectionSettings,
    private readonly embedded: EmbeddedPostgres | undefined,
    /** The app's `@Scheduled` workflows; started once the runtime recovered, if it runs workflows. */
    private scheduler: Scheduler | undefined,
    readonly schedules: readonly ScheduledWorkflow[],
  ) {}

  get state(): RuntimeState {
    return this.stateName;
  }

  get tracing(): Tracing {
    return this.executor.deps.tracing;
  }

  /** Served as Prometheus text by `GET /operon/metrics`. */
  get metrics(): RuntimeMetrics {
    return this.executor.deps.metrics!;
  }

  get appPool(): pg.Pool {
    return this.systemDb.appPool;
  }

  /** Connects (starting the embedded Postgres if configured so), creates databases and migrates Operon's schemas. */
  static async create(options: RuntimeOptions): Promise<OperonRuntime> {
    const { config } = options;
    const logger = options.logger ?? createLogger(config.telemetry.logs.logLevel);
    const registry = new FunctionRegistry(options.classes, options.bundle?.version ?? null);
    // A crontab or zone that cannot be used fails here, before any database is touched.
    const schedules = scheduledWorkflows(registry);
    const embedded = config.database.embedded ? await startEmbedded(config, logger) : undefined;
    const connection: ConnectionSettings = {
      host: embedded?.host ?? config.database.hostname,
      port: embedded?.port ?? config.database.port,
      user: embedded?.user ?? config.database.username,
      // The embedded server's own (generated) password; the configured one names another server's.
      password: embedded?.password ?? config.database.password,
      ssl: config.database.ssl,
      sslrootcert: config.database.sslrootcert,
      connectionTimeoutMillis: config.database.connectionTimeoutMillis,
      pooler: config.database.pooler,
    };
    // LISTEN and NOTIFY need a session of their own: a direct connection when one is named.
    const listen = config.database.listen;
    const listenConnection: ConnectionSettings =
      listen === undefined
        ? connection
        : { ...connection, host: listen.hostname, port: listen.port, user: listen.username, password: listen.password, ssl: listen.ssl, pooler: 'none' };
    const pools: pg.Pool[] = [];
    const tracing = await createTracing({
      ...config.telemetry.traces,
      serviceName: process.env.OTEL_SERVICE_NAME ?? (basename(config.appDir) || 'operon-app'),
    });
    let messaging: WorkflowMessaging | undefined;
    try {
      // Before any connection: a library the app has not installed stops the start at once.
      const bindClient = await loadTransactionClient(config.database.client, config.appDir);
      const readOnly = options.readOnly === true;
      // The application_name of this runtime's sessions: ended by whoever declares it dead.
      const sessionTag = `operon-${randomBytes(6).toString('hex')}`;
      const systemPool = createPool(connection, config.database.system_database, config.database.poolSize, readOnly, sessionTag);
      pools.push(systemPool);
      const appPool = createPool(connection, config.database.user_database, config.database.poolSize, readOnly, sessionTag);
      pools.push(appPool);
      const executes = !readOnly && (options.executes ?? true);
      const heartbeatPool = executes ? createHeartbeatPool(connection, config.database.system_database, sessionTag, heartbeatTimeoutMs(config.runtimeConfig)) : undefined;
      if (heartbeatPool) pools.push(heartbeatPool);
      const systemDb = new SystemDatabase(
        systemPool,
        appPool,
        { system: config.database.system_database, app: config.database.user_database },
        heartbeatPool,
      );
      // A pooler answers a login to a missing database with its own error (SQLSTATE 08P01, not
      // 3D000), and may refuse logins to it for a while after one failed: so behind one the
      // databases are made sure of first, through the server's `postgres` database. That one may
      // be neither served by the pooler nor open to this role: then it is enough that they answer.
      if (!readOnly && connection.pooler === 'transaction') {
        const databases = [
          [config.database.system_database, systemPool],
          [config.database.user_database, appPool],
        ] as const;
        await Promise.all(
          databases.map(([name, pool]) =>
            ensureDatabaseExists(connection, name).catch((cannotEnsure: unknown) =>
              pool.query('SELECT 1').then(
                () => undefined,
                () => Promise.reject(cannotEnsure),
              ),
            ),
          ),
        );
      }
      const applied = readOnly
        ? { system: [], app: [] }
        : await systemDb.migrateEach((database) => ensureDatabaseExists(connection, database));
      if (applied.system.length || applied.app.length) {
        logger.info({ systemVersions: applied.system, appDbVersions: applied.app }, 'migrated Operon schemas');
      }
      // Before registering: every executor that adopts a workflow of this version can then load it.
      if (options.bundle && !readOnly && (options.executes ?? true)) await systemDb.storeVersion(options.bundle);
      // A DatabaseClock given as the clock (a test's, on a skewed host clock) is the one heartbeats set.
      const databaseClock = options.clock instanceof DatabaseClock ? options.clock : new DatabaseClock();
      const clock = options.clock ?? databaseClock;
      messaging = new WorkflowMessaging({
        systemDb,
        logger,
        clock,
        notifications: config.database.notifications,
        pollIntervalMs: config.database.notifications === 'poll' ? config.database.pollIntervalMs : undefined,
        listenerClient: () => createClient(listenConnection, config.database.system_database, LISTENER_APPLICATION_NAME),
        notifierClient: () =>
          createClient(listenConnection, config.database.system_database, NOTIFIER_APPLICATION_NAME, '-c synchronous_commit=off'),
      });
      const executor = new WorkflowExecutor({
        systemDb,
        appPool,
        registry,
        executorId: config.runtimeConfig.executorId,
        logger,
        application: config.application,
        tracing,
        messaging,
        maxRecoveryAttempts: config.runtimeConfig.maxRecoveryAttempts,
        sessionTag,
        leaseTiming: { leaseMs: config.runtimeConfig.leaseMs, heartbeatIntervalMs: config.runtimeConfig.heartbeatIntervalMs },
        clock,
        databaseClock,
        metrics: new RuntimeMetrics((name) => registry.byQualifiedName(name)?.method.kind, systemDb),
        afterRecorded: options.afterRecorded,
        bindClient,
        // Beside the app's own node_modules, so a loaded version's packages resolve as its bundle's did.
        versions: new LoadedVersions(systemDb, join(config.appDir, '.operon', 'versions'), registry, logger),
      });
      if (!readOnly) {
        await messaging.start();
        // Before any workflow starts: its owner is this instance.
        if (options.executes ?? true) await executor.register();
      }
      const client = new OperonClient(executor, messaging, registry);
      const runsSchedules = !readOnly && (options.executes ?? true) && schedules.length > 0;
      const scheduler = runsSchedules ? new Scheduler({ systemDb, executor, clock, databaseClock: clock === databaseClock ? databaseClock : undefined, logger }, schedules) : undefined;
      return new OperonRuntime(config, logger, registry, systemDb, executor, messaging, client, connection, embedded, scheduler, schedules);
    } catch (error) {
      await tracing.shutdown().catch(() => undefined);
      await messaging?.close();
      await Promise.all(pools.map((pool) => pool.end().catch(() => undefined)));
      // A server this process found running belongs to another process (or a crashed one's restart).
      if (embedded && !embedded.adopted) await embedded.stop();
      throw error;
    }
  }

  /** Resumes every PENDING workflow of this executor; logs and returns how many. */
  async recover(): Promise<number> {
    this.stateName = 'recovering';
    try {
      const count = await this.executor.recoverPendingWorkflows();
      this.logger.info({ executorId: this.executor.lease.executorId, recovered: count }, `recovered ${count} pending workflows`);
      await this.scheduler?.start();
      this.stateName = 'running';
      const { retentionDays } = this.config.management;
      if (retentionDays !== undefined) {
        this.retention = new RetentionSweeper(this.systemDb, this.executor.deps.clock, this.logger, { retentionDays });
        this.retention.start();
      }
      return count;
    } catch (error) {
      this.stateName = 'failed';
      throw error;
    }
  }

  /**
   * Dies where it stands, as a killed process would (the testing runtime's crashAfter): at once,
   * before this returns, every execution is abandoned and nothing more runs; then `endSessions`
   * ends this runtime's database sessions (so no statement in flight commits) and the pools are
   * dropped. Nothing is written: the executor stays live in the system database, as a dead
   * process's does, until a restart (the next runtime on the same executor id) takes its place.
   */
  crash(endSessions: (sessionTag: string) => Promise<void>): Promise<void> {
    this.executor.crash();
    this.stateName = 'stopped';
    // A dead process's schedules and sweeps die with it: left on, their timers would go on waking
    // (beside the recovered runtime's on a shared virtual clock, or after destroy()), failing on
    // the ended pools. Stopped now: their timers are cancelled before this returns.
    const background = Promise.all([this.scheduler?.stop(), this.retention?.stop()]).catch(() => undefined);
    // Ended now, not after the sessions: a dead process writes nothing more, and a communicator
    // returning in the meantime must not get its record in (ending refuses every new checkout).
    const poolsEnded = this.systemDb.endPools().catch(() => undefined);
    return (async () => {
      await endSessions(this.executor.deps.sessionTag).catch((error: unknown) =>
        this.logger.warn({ err: error }, "could not end the crashed runtime's sessions"),
      );
      await this.messaging.close();
      await poolsEnded;
      await background;
      await this.tracing.shutdown().catch(() => undefined);
    })();
  }

  /**
   * Starts over with no workflow, for the testing runtime's reset: the schedules stop, every
   * execution is abandoned and fenced (WorkflowExecutor.reset), `clear` empties the databases,
   * `rewind` sets the clock back (cancelling its timers), and the schedules start again from the
   * emptied records and the rewound clock (after it: their first timer would be cancelled).
   */
  async reset(clear: (previousInstance: string, nextInstance: string) => Promise<void>, rewind: () => void): Promise<void> {
    const scheduler = this.scheduler;
    await scheduler?.stop();
    await this.executor.reset(clear);
    rewind();
    if (!scheduler) return;
    this.scheduler = new Scheduler(scheduler.deps, scheduler.schedules);
    await this.scheduler.start();
  }

  /**
   * Lets running workflows finish (up to `timeoutMs`), closes the pools, and stops the embedded
   * Postgres if this runtime started it (`stopEmbedded` overrides: `operon start` stops an adopted
   * server too, since the app that serves it is going away).
   */
  async destroy(options: { timeoutMs?: number; stopEmbedded?: boolean } = {}): Promise<void> {
    if (this.stateName === 'stopped') return;
    this.stateName = 'stopping';
    await this.scheduler?.stop();
    await this.retention?.stop();
    await this.executor.stop(options.timeoutMs ?? 10_000);
    await this.messaging.close();
    await this.systemDb.endPools();
    await this.tracing.shutdown().catch((error: unknown) => this.logger.warn({ err: error }, 'could not flush the last spans'));
    if (options.stopEmbedded ?? !this.embedded?.adopted) await this.embedded?.stop();
    this.stateName = 'stopped';
  }
}

/** The embedded Postgres of `config`, started (or adopted if running); the testing runtime starts it early to reset the system database. */
export async function startEmbedded(config: OperonConfig, logger: Logger): Promise<EmbeddedPostgres> {
  return startEmbeddedPostgres({
    dataDir: join(config.appDir, '.operon', 'pgdata'),
    port: config.database.port,
    log: (message) => logger.info(message),
  });
}
