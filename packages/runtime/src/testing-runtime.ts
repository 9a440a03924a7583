/**
 * The testing runtime: the app's classes on a real runtime, with its migrations applied and its
 * routes reachable through Fastify's `inject`, for app authors' tests. It runs on databases of its
 * own (testing/test-databases.ts), fresh copies of a migrated template for every testing runtime,
 * on the app's server (the embedded Postgres when the config names no host). It may run on a
 * virtual clock (testing/virtual-time.ts), and die and recover as a killed process would.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ChildStarterOf, EnqueueOptions, HandlerInvokerOf, InvokeOptions, WorkflowHandle } from '@operon/sdk';
import { invokeArgument } from './client/operon-client.js';
import { applyAppMigrations } from './app-migrations.js';
import { loadConfig } from './config/load-config.js';
import type { ConnectionSettings } from './database/pools.js';
import { ANONYMOUS } from './executor/workflow-executor.js';
import { VirtualClock } from './executor/virtual-clock.js';
import type { StepSite } from './executor/workflow-execution.js';
import { createHttpServer } from './http/http-server.js';
import { createLogger } from './logging.js';
import { OperonRuntime, startEmbedded } from './runtime.js';
import { runInitializers } from './initializers.js';
import { durationMs, type Duration } from './testing/durations.js';
import { adminClient, claimDatabaseName, claimTestDatabases, endSessions, prepareTestDatabases, testConfigOf, type TestDatabasesClaim } from './testing/test-databases.js';
import { OperonTestingFromWorkflowError, OperonTestingUsageError } from './testing/testing-errors.js';
import { runningWorkflow } from './executor/running-workflow.js';
import type { SystemDatabase } from './system-db/system-database.js';
import { runUntilIdleBudget, VirtualTime, type RunUntilIdleOptions } from './testing/virtual-time.js';
import { captureSeed, drainPools, forgetWorkflows, resetDatabases, type ResetStatements } from './testing/test-reset.js';

/** How long a reset waits for the abandoned executions' statements in flight before it ends their sessions. */
const RESET_DRAIN_MS = 1_000;

export interface TestingRuntimeOptions {
  /**
   * Start from fresh copies of the template databases (no workflows, the app's tables as its
   * migrations leave them). `false` keeps the test databases of an earlier testing runtime.
   * @default true
   */
  fresh?: boolean;
  /** @deprecated the former name of `fresh`. */
  dropSystemDB?: boolean;
  /**
   * `'virtual'`: workflow time stands still until `advance()` or `runUntilIdle()` moves it.
   * @default 'database' (real time, by the database's clock)
   */
  clock?: 'virtual' | 'database';
}

/** Who a testing runtime's `invoke` calls as: what an authenticator would have returned. */
export interface TestCaller {
  readonly authenticatedUser: string;
  readonly authenticatedRoles: readonly string[];
}

export interface TestingRuntime {
  /**
   * As a handler's `ctx.invoke`: workflows give a handle, transactions and communicators their
   * result. `caller` is who calls (default: an anonymous caller), for testing role checks.
   */
  invoke<T extends object>(cls: T, workflowUUID?: string | InvokeOptions, caller?: TestCaller): HandlerInvokerOf<T>;
  /** Enqueues a workflow of `cls` on `options.queue`, as a handler's `ctx.invoke(Cls, { queue })`. */
  invoke<T extends object>(cls: T, options: InvokeOptions & EnqueueOptions, caller?: TestCaller): ChildStarterOf<T>;
  retrieveWorkflow<R = unknown>(workflowUUID: string): WorkflowHandle<R>;
  send<M>(destinationUUID: string, message: M, topic?: string, idempotencyKey?: string): Promise<void>;
  getEvent<V = unknown>(workflowUUID: string, key: string, timeoutSeconds?: number): Promise<V | null>;
  /** Fastify's `inject` against the app's routes: an HTTP request without a socket. */
  inject: FastifyInstance['inject'];
  /** Runs `sql` on the app database and returns its rows. */
  queryUserDB<R = any>(sql: string, ...params: unknown[]): Promise<R[]>;
  /** Workflow time (epoch ms): the virtual clock's, or the database's. */
  now(): number;
  /**
   * Virtual clock only: moves time forward by `duration` (ms, or '30s', '2h', '30d'), firing the
   * sleeps and timeouts it passes in deadline order; resolves once the workflows they woke are quiet.
   * A crash (crashAfter) on the way stops it there, the clock at the crash: it rejects with
   * OPERON_ERR_TESTING_CRASHED saying how much is left for after `recover()`. It takes its turn
   * after the reset, recover, advance or runUntilIdle called before it.
   */
  advance(duration: Duration): Promise<void>;
  /**
   * Virtual clock only: fires every pending deadline in order, until none is left and the workflows
   * are quiet. Fails (OPERON_ERR_TESTING_USAGE) past its budget, by default 1000 deadlines or 4 s of
   * real time, as with a workflow that waits in a loop: advance by a duration for those.
   */
  runUntilIdle(options?: RunUntilIdleOptions): Promise<void>;
  /**
   * The runtime dies right after the next operation named `operationName` ('Class.method') is
   * recorded, as a killed process would: nothing more runs or is written, the workflows' handles
   * reject, and every helper but `recover()` and `destroy()` fails until `recover()`.
   * It takes its turn like the helpers that change the runtime's state: called while a reset,
   * recover, advance or runUntilIdle called before it is under way, it arms once they finished (a
   * reset before it does not disarm it), and the promise resolves then; otherwise it arms at once.
   * Called from the code of a workflow, transaction or communicator of this runtime, it arms at once
   * (a helper under way waits for that code). An unknown name is refused (thrown) at once.
   */
  crashAfter(operationName: string): Promise<void>;
  /** Whether the runtime died (crashAfter) and was not yet recovered. */
  readonly crashed: boolean;
  /**
   * After a crash: starts again on the same databases as a restarted process would, resuming the
   * dead one's workflows from their records. Resolves with how many it resumed.
   */
  recover(): Promise<number>;
  /**
   * Returns the runtime to the state it started in, in place (for a `beforeEach`): every workflow
   * of this process is abandoned (its code never runs again and nothing it does is written; its
   * handles reject with OPERON_ERR_RUNTIME_SHUTDOWN), the app's tables hold their rows of the
   * start again (the migrations' and initializers' seed rows, sequences included), the tables,
   * views, sequences, types and other objects a test created are dropped, the system
   * database has no workflows, messages, events or schedules' records, the virtual clock is back at
   * its start with no timer, and crashAfter is disarmed (a crashed runtime is started again first).
   */
  reset(): Promise<void>;
  /** Closes the HTTP server and the pools, and stops the embedded Postgres if this testing runtime started it. */
  destroy(): Promise<void>;
  /** The runtime now serving (recover() replaces it). */
  readonly runtime: OperonRuntime;
}

/** The test databases of this process's live testing runtimes: a second one would drop them under the first. */
const inUse = new Set<string>();

/** A runtime of the testing runtime's, with its routes. */
interface Serving {
  readonly runtime: OperonRuntime;
  readonly app: FastifyInstance;
}

/**
 * A recovered runtime on the app's config (`configPath`, relative to the working directory), on
 * test databases of its own, with the `migrations/` folder next to the config applied and the
 * HTTP routes built but not listening.
 * @example
 * ```ts
 * const testRuntime = await createTestingRuntime([Greetings], 'operon-config.yaml', { clock: 'virtual' });
 * const handle = await testRuntime.invoke(Greetings).remind('Ada');
 * await testRuntime.advance('1h');
 * expect(await handle.getResult()).toMatch(/Ada/);
 * await testRuntime.destroy();
 * ```
 */
export async function createTestingRuntime(
  classes: unknown[],
  configPath = 'operon-config.yaml',
  options: TestingRuntimeOptions = {},
): Promise<TestingRuntime> {
  if (options.clock !== undefined && options.clock !== 'virtual' && options.clock !== 'database') {
    throw new OperonTestingUsageError('createTestingRuntime', `options.clock must be 'virtual' or 'database', got ${JSON.stringify(options.clock)}`);
  }
  const appConfig = loadConfig(configPath);
  const logger = createLogger(appConfig.telemetry.logs.logLevel);
  // One executor id for the runtime and its recoveries: a recovery is this executor restarted.
  const config = testConfigOf(appConfig, appConfig.runtimeConfig.executorId ?? `operon-test-${randomBytes(6).toString('hex')}`);
  const migrationsDir = join(config.appDir, 'migrations');
  const databases = `${config.database.user_database}, ${config.database.system_database}`;
  if (inUse.has(databases)) {
    throw new OperonTestingUsageError('createTestingRuntime', `another testing runtime of this process runs on ${databases}: destroy it first (one at a time per config)`);
  }
  // The embedded server must run before databases on it are made; the runtime then adopts it.
  const server = config.database.embedded ? await startEmbedded(config, logger) : undefined;
  // Whether destroy() stops the embedded server: only if this testing runtime started it.
  const stopEmbedded = server ? !server.adopted : undefined;
  const connection: ConnectionSettings = {
    host: server?.host ?? config.database.hostname,
    port: server?.port ?? config.database.port,
    user: server?.user ?? config.database.username,
    password: server?.password ?? config.database.password,
    ssl: config.database.ssl,
    sslrootcert: config.database.sslrootcert,
    connectionTimeoutMillis: config.database.connectionTimeoutMillis,
    // Behind a transaction pooler its claim on the test databases is held in a transaction (claimTestDatabases).
    pooler: config.database.pooler,
  };
  const clock = options.clock === 'virtual' ? new VirtualClock() : undefined;
  let crashTarget: string | undefined;
  let crash: Promise<void> | undefined;
  /** The operation the crash came after, while crashed. */
  let crashedAfter: string | undefined;
  let serving: Serving;
  /** The system databases of the runtimes it started: code of their workflows is code of this testing runtime. */
  const ownRuntimes = new WeakSet<SystemDatabase>();
  /** Routes not yet closed: a crashed runtime's are closed by the recovery or destroy after it. */
  const openApps = new Set<FastifyInstance>();
  const closeApps = async () => {
    for (const app of openApps) await app.close();
    openApps.clear();
  };

  const start = async (): Promise<Serving & { recovered: number }> => {
    const runtime = await OperonRuntime.create({
      config,
      classes,
      logger,
      clock,
      afterRecorded: (site: StepSite) => {
        if (site.functionName !== crashTarget) return;
        crashTarget = undefined;
        crashedAfter = site.functionName;
        crash = runtime.crash((sessionTag) => endSessions(connection, sessionTag));
      },
    });
    ownRuntimes.add(runtime.systemDb);
    try {
      await applyAppMigrations(runtime.appPool, migrationsDir, logger);
      const recovered = await runtime.recover();
      await runInitializers(runtime);
      const app = await createHttpServer(runtime);
      openApps.add(app);
      return { runtime, app, recovered };
    } catch (error) {
      await runtime.destroy({ stopEmbedded: false });
      throw error;
    }
  };

  inUse.add(databases);
  let claim: TestDatabasesClaim | undefined;
  /** What a reset puts back: the databases as this testing runtime found them once started. */
  let seed: ResetStatements;
  try {
    claim = await claimTestDatabases(connection, databases, claimDatabaseName(config.database.system_database));
    await prepareTestDatabases(connection, claim, config, migrationsDir, options.fresh ?? options.dropSystemDB ?? true, logger);
    serving = await start();
    try {
      seed = await captureSeed(serving.runtime.appPool, serving.runtime.systemDb.systemPool);
    } catch (error) {
      await closeApps();
      await serving.runtime.destroy({ stopEmbedded: false });
      throw error;
    }
  } catch (error) {
    await claim?.release();
    inUse.delete(databases);
    if (stopEmbedded) await server?.stop();
    throw error;
  }
  const time = clock ? new VirtualTime(clock, () => serving.runtime, () => crashedAfter) : undefined;
  /** Whether destroy() has begun: every helper is refused from then on. */
  let gone = false;
  const live = (helper: string): Serving => {
    if (gone) throw new OperonTestingUsageError(helper, 'the testing runtime was destroyed');
    if (crash) throw new OperonTestingUsageError(helper, 'the runtime crashed (crashAfter); call recover() first');
    return serving;
  };
  /** The virtual clock's mover; the runtime's state is checked when the helper's turn comes. */
  const virtual = (helper: string): VirtualTime => {
    if (!time) throw new OperonTestingUsageError(helper, "the runtime is on the database's clock; create it with { clock: 'virtual' } to move time");
    return time;
  };
  let destroyed: Promise<void> | undefined;
  /**
   * The helpers that change the runtime's state (reset, recover, advance, runUntilIdle, destroy)
   * take turns, in the order they were called: one that ran into another would start a runtime
   * the other then loses, move a clock the other rewinds, or reset a runtime the other replaces.
   */
  let turns: Promise<unknown> = Promise.resolve();
  /**
   * The crashAfter calls made since the last helper called, while it is under way: they arm the
   * moment it finishes, before its promise settles (so before the test's next line after awaiting
   * it). Undefined when no helper is under way: crashAfter then arms at once.
   */
  let armsAfterLast: Array<() => void> | undefined;
  const inTurn = <T>(run: () => Promise<T>): Promise<T> => {
    const arms: Array<() => void> = [];
    armsAfterLast = arms;
    const next = turns.then(run).finally(() => {
      if (armsAfterLast === arms) armsAfterLast = undefined;
      for (const arm of arms) arm();
    });
    turns = next.catch(() => undefined);
    return next;
  };
  /** The workflow of this testing runtime whose code made the current call, if any. */
  const fromOwnWorkflow = () => {
    const caller = runningWorkflow();
    return caller && ownRuntimes.has(caller.systemDb) ? caller : undefined;
  };
  /**
   * Refuses a helper that waits for the runtime when a workflow of this runtime awaits it: the
   * helper would wait for that workflow (to go quiet, to be drained or to finish) while it waits.
   */
  const notFromWorkflow = (helper: string, why: string): void => {
    const caller = fromOwnWorkflow();
    if (caller) throw new OperonTestingFromWorkflowError(helper, caller.functionName, caller.workflowUUID, why);
  };
  /** notFromWorkflow, as a rejected promise for the helpers that return one. */
  const refusedFromWorkflow = (helper: string, why: string): Promise<never> | undefined => {
    try {
      notFromWorkflow(helper, why);
      return undefined;
    } catch (error) {
      return Promise.reject(error);
    }
  };
  const QUIET = 'it resolves once the workflows are quiet, and this one is not while it waits';
  /** Starts the crashed runtime's successor (on the same databases), once the crash is complete. */
  const restart = async (): Promise<number> => {
    await crash;
    await closeApps();
    // Cleared first: the recovery may crash again (a recovered workflow reaching the target).
    crash = undefined;
    crashedAfter = undefined;
    const next = await start();
    serving = next;
    return next.recovered;
  };
  return {
    get runtime() {
      return serving.runtime;
    },
    get crashed() {
      return crash !== undefined;
    },
    invoke: ((cls: object, argument?: string | object, caller?: TestCaller) => {
      const { workflowUUID, queue } = invokeArgument(argument);
      return live('invoke').runtime.client.invoke(cls, {
        queue,
        identity: caller ? { ...caller, assumedRole: '' } : ANONYMOUS,
        // A UUID given here is a client's: checked, and kept out of the derived namespace.
        nextWorkflowUUID: () => (workflowUUID === undefined ? undefined : { uuid: workflowUUID, derived: false }),
      });
    }) as TestingRuntime['invoke'],
    retrieveWorkflow: (workflowUUID) => live('retrieveWorkflow').runtime.client.retrieveWorkflow(workflowUUID),
    send: (destinationUUID, message, topic, idempotencyKey) => live('send').runtime.client.send(destinationUUID, message, topic, idempotencyKey),
    getEvent: (workflowUUID, key, timeoutSeconds) => live('getEvent').runtime.client.getEvent(workflowUUID, key, timeoutSeconds),
    inject: ((...args: Parameters<FastifyInstance['inject']>) => live('inject').app.inject(...args)) as FastifyInstance['inject'],
    queryUserDB: async (sql, ...params) => (await live('queryUserDB').runtime.appPool.query(sql, params.length > 0 ? params : undefined)).rows,
    now: () => clock?.now() ?? serving.runtime.executor.deps.clock.now(),
    advance: async (duration) => {
      notFromWorkflow('advance', QUIET);
      // A bad duration is refused at once, not after the helpers before it.
      const mover = virtual('advance');
      const ms = durationMs('advance', duration);
      const call = `advance(${typeof duration === 'string' ? `'${duration}'` : String(duration)})`;
      return inTurn(async () => {
        live('advance');
        await mover.advance(ms, call);
      });
    },
    runUntilIdle: async (runOptions) => {
      notFromWorkflow('runUntilIdle', QUIET);
      const mover = virtual('runUntilIdle');
      const budget = runUntilIdleBudget(runOptions);
      return inTurn(async () => {
        live('runUntilIdle');
        await mover.runUntilIdle(budget);
      });
    },
    crashAfter: (operationName) => {
      if (gone) throw new OperonTestingUsageError('crashAfter', 'the testing runtime was destroyed');
      const registry = serving.runtime.registry;
      const fn = typeof operationName === 'string' ? registry.byQualifiedName(operationName) : undefined;
      // Only operations are recorded: a handler, initializer or plain method never would fire it.
      if (!fn?.method.kind) {
        const known = registry.all().filter((f) => f.method.kind).map((f) => f.name).join(', ');
        const what = fn ? `${fn.name} is not a workflow, transaction or communicator (nothing of it is recorded, so the crash would never come); name an operation it invokes` : `no registered operation is named ${JSON.stringify(operationName)}`;
        throw new OperonTestingUsageError('crashAfter', `${what} (operations: ${known || 'none'})`);
      }
      const arm = () => {
        live('crashAfter');
        // One crash at a time: a second crashAfter replacing the first would drop the crash the test set up first.
        if (crashTarget !== undefined) {
          throw new OperonTestingUsageError('crashAfter', `already armed for ${crashTarget}, which has not fired yet; one crash is armed at a time (reset() disarms it)`);
        }
        crashTarget = fn.name;
      };
      // Behind a helper under way (a reset not awaited), it arms in its turn: the reset would disarm it.
      // Called from the code of one of its own workflows it arms at once: that code runs on the live
      // runtime, after what the test awaited, and a helper under way (an advance) waits for that code.
      const behind = fromOwnWorkflow() ? undefined : armsAfterLast;
      if (!behind) {
        arm();
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        behind.push(() => {
          try {
            arm();
            resolve();
          } catch (error) {
            reject(error);
          }
        });
      });
    },
    recover: () =>
      refusedFromWorkflow('recover', 'it takes its turn behind the helpers under way, which wait for this workflow, and starts again the runtime it runs on') ??
      inTurn(async () => {
        if (gone) throw new OperonTestingUsageError('recover', 'the testing runtime was destroyed');
        if (!crash) throw new OperonTestingUsageError('recover', 'the runtime has not crashed: call crashAfter(\'Class.method\') first');
        return restart();
      }),
    reset: () =>
      refusedFromWorkflow('reset', 'it abandons every workflow, this one too, and waits for their statements in flight') ??
      inTurn(async () => {
        if (gone) throw new OperonTestingUsageError('reset', 'the testing runtime was destroyed');
        crashTarget = undefined;
        if (crash) {
          // A crashed runtime's test ended without recover(): started again, as a restart would,
          // but with its workflows' records gone first, so that none of them runs again.
          await crash;
          const system = await adminClient(connection, config.database.system_database);
          try {
            await forgetWorkflows(system, seed);
          } finally {
            await system.end().catch(() => undefined);
          }
          await restart();
        }
        const runtime = serving.runtime;
        const { systemPool, appPool } = runtime.systemDb;
        await runtime.reset(
          async (previousInstance, nextInstance) => {
            await drainPools([systemPool, appPool], RESET_DRAIN_MS, () => endSessions(connection, runtime.executor.deps.sessionTag, true));
            await resetDatabases(appPool, systemPool, seed, previousInstance, nextInstance);
          },
          // After the drain (a timer an abandoned execution set meanwhile is cancelled too), and
          // before the schedules start again (their first timers are set on the rewound clock).
          () => clock?.reset(clock.startMs),
        );
      }),
    destroy: () =>
      // The helpers called before it finish first (the pools stay open for them); those called after refuse.
      refusedFromWorkflow('destroy', 'it lets the running workflows finish first, this one too') ??
      (destroyed ??= inTurn(async () => {
        gone = true;
        crashTarget = undefined;
        await closeApps();
        if (crash) await crash;
        else await serving.runtime.destroy({ stopEmbedded: false });
        await claim?.release();
        inUse.delete(databases);
        if (stopEmbedded) await server?.stop();
      })),
  };
}
