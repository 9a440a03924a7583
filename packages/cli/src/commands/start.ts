/**
 * `operon start`: load the config and the bundle, create or migrate the system schema, recover
 * every PENDING workflow of this executor, run the `@Initializer()` methods, and only then serve
 * HTTP (docs/cli.md, `operon start`).
 */
import type { Command } from 'commander';
import type { createHttpServer, OperonConfig } from '@operon/runtime';
import type { CliCommand } from '../cli-command.js';
import { parsePort, withConfigOption, type ConfigOption } from '../cli-options.js';
import type { OpenedRuntime } from '../app/open-runtime.js';
import { assertPortFree, listenError } from '../app/port-check.js';
import { stopOnSignal, within } from '../app/shutdown.js';
import { surviveFloatingQueries } from '../app/floating-rejections.js';

type HttpServer = Awaited<ReturnType<typeof createHttpServer>>;

/** How long in-flight requests get to finish on shutdown before the runtime is stopped anyway. */
const HTTP_DRAIN_MS = 10_000;

interface StartOptions extends ConfigOption {
  port?: number;
  logLevel?: string;
}

export async function startApp(options: StartOptions): Promise<void> {
  // The runtime (with Fastify, pg and the dashboard) is loaded here, not at the top: `operon --help`
  // and flag errors start without it.
  const [{ createHttpServer, createLogger, loadConfig, logDestination, managementAccess, runInitializers }, { loadAppBundle }, { openRuntime }] =
    await Promise.all([import('@operon/runtime'), import('../app/load-bundle.js'), import('../app/open-runtime.js')]);
  const config = loadConfig(options.config, { overrides: { port: options.port, logLevel: options.logLevel } });
  const { host, port } = config.runtimeConfig;
  // Before anything else: a second start on this port must not recover the first one's workflows.
  await assertPortFree(host, port);
  const { classes, stored } = await loadAppBundle(config.runtimeConfig.entrypoint);
  // Readable lines on a terminal, JSON when piped (telemetry.logs.format, OPERON_LOG_FORMAT).
  const logger = createLogger(config.telemetry.logs.logLevel, await logDestination(config.telemetry.logs.format));
  surviveFloatingQueries(logger);
  // Stored in the system database as this start's version: workflows started here record it.
  const opened = await openRuntime(config, classes, logger, { bundle: stored });

  let server: HttpServer | undefined;
  stopOnSignal(logger, async () => {
    // fastify.close() closes idle keep-alive connections once; a request still in flight would
    // leave its connection open after its response, holding close() up until the drain bound.
    if (server) server.server.keepAliveTimeout = 1;
    if (server && !(await within(server.close(), HTTP_DRAIN_MS))) {
      logger.warn(`operon: requests still in flight after ${HTTP_DRAIN_MS / 1000}s, stopping anyway`);
    }
    // The embedded Postgres belongs to the app that serves it, so it stops when the app stops
    // (docs/cli.md, `operon start`, Shutdown).
    // Running workflows get the grace period; the rest are handed over to other executors.
    await opened.runtime.destroy({ stopEmbedded: true, timeoutMs: config.runtimeConfig.shutdownGraceMs });
    logger.info('operon: stopped');
  });

  try {
    await opened.runtime.recover();
    await runInitializers(opened.runtime);
    server = await createHttpServer(opened.runtime, { bodyLimitBytes: config.runtimeConfig.bodyLimitBytes, logger });
    // Fastify logs one line once it listens; make it the line users and scripts look for.
    // The dashboard's link carries this start's token when no management token or JWT is configured.
    const dashboard = managementAccess(opened.runtime).dashboardUrl(dashboardBase(config));
    await server.listen({ host, port, listenTextResolver: () => `operon: serving on ${serverUrl(config)} (version ${stored.version}), dashboard ${dashboard}` });
  } catch (error) {
    await abandon(server, opened);
    throw listenError(error, host, port);
  }
}

async function abandon(server: HttpServer | undefined, opened: OpenedRuntime): Promise<void> {
  await server?.close().catch(() => undefined);
  await opened.close().catch(() => undefined);
}

function serverUrl(config: OperonConfig): string {
  const { host, port } = config.runtimeConfig;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Where a browser on this machine reaches the server: a wildcard bind address is not one. */
function dashboardBase(config: OperonConfig): string {
  const { host, port } = config.runtimeConfig;
  const local = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${local.includes(':') ? `[${local}]` : local}:${port}`;
}

const start: CliCommand = {
  order: 30,
  register(program: Command): void {
    withConfigOption(
      program
        .command('start')
        .description('migrate the system schema, recover interrupted workflows, and serve the app over HTTP')
        .option('-p, --port <port>', 'the HTTP port (overrides runtimeConfig.port)', parsePort)
        .option('-l, --log-level <level>', 'trace, debug, info, warn, error, fatal or silent (overrides telemetry.logs.logLevel)'),
    ).action((options: StartOptions) => startApp(options));
  },
};

export default start;
