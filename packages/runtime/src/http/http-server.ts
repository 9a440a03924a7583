/**
 * The app's HTTP server: every registered handler route on Fastify, plus `GET /operon/health`.
 * Returned ready but not listening, so `operon start` listens and the testing runtime injects.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import { OperonError } from '@operon/sdk';
import { EXECUTORS_PATH, managementRoutes } from '../management/management-routes.js';
import { metricsRoute } from '../management/metrics-route.js';
import type { Logger } from 'pino';
import type { OperonRuntime } from '../runtime.js';
import { errorResponse, OperonHttpRouteError } from './http-errors.js';
import { handlerRoute } from './handler-route.js';
import { pluginRefusal, registerClassRoutes, type ClassRoutes } from './class-plugins.js';
import { DASHBOARD_PATH, serveDashboard } from './dashboard-files.js';
import { useJsonBodies } from './json-body.js';
import { loggableUrl } from './loggable-url.js';
import { appInfo, OPENAPI_PATH, openApiDocument } from './openapi-document.js';
import { REQUEST_ID_HEADER, requestIdOf } from './request-ids.js';

export interface HttpServerOptions {
  /** The largest request body accepted; larger ones get 413. @default runtime.config.runtimeConfig.bodyLimitBytes */
  bodyLimitBytes?: number;
  /** The deepest nesting of arrays and objects a JSON body may have; deeper ones get 400. @default runtime.config.runtimeConfig.maxJsonDepth */
  maxJsonDepth?: number;
  /** @default runtime.logger */
  logger?: Logger;
  /** How long a client may take to send a whole request; @default runtime.config.runtimeConfig.requestTimeoutMs */
  requestTimeoutMs?: number;
}

export const HEALTH_PATH = '/operon/health';
export { EXECUTORS_PATH };

/**
 * One line per request at info is too much for a busy app (completions are logged at debug below),
 * and request log lines name the id `requestID` as every other Operon line does. Fastify 5.12 moved
 * both settings into a LogController and deprecated the plain options, which older 5.x still need.
 */
function logControl(Fastify: unknown): Record<string, unknown> {
  const settings = { disableRequestLogging: true, requestIdLogLabel: 'requestID' };
  const LogController = (Fastify as unknown as { LogController?: new (options: object) => unknown }).LogController;
  return LogController ? { logController: new LogController(settings) } : settings;
}

export async function createHttpServer(runtime: OperonRuntime, options: HttpServerOptions = {}): Promise<FastifyInstance> {
  const bodyLimitBytes = options.bodyLimitBytes ?? runtime.config.runtimeConfig.bodyLimitBytes;
  const logger = options.logger ?? runtime.logger;
  const requestTimeoutMs = options.requestTimeoutMs ?? runtime.config.runtimeConfig.requestTimeoutMs;
  // Loaded here, not at import: commands and workers that serve no HTTP start faster.
  const { default: Fastify } = await import('fastify');
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: bodyLimitBytes,
    // Fastify's default requestTimeout is 0 (none): a client trickling its headers or body a byte
    // at a time would hold a connection for ever, and enough of them would exhaust the server
    // (slowloris). Node then answers 408 and closes the connection. Node checks its timers every
    // connectionsCheckingInterval (30 s by default), so that is made short enough to matter.
    requestTimeout: requestTimeoutMs,
    http: {
      headersTimeout: Math.min(requestTimeoutMs, 60_000),
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(requestTimeoutMs / 4))),
    },
    genReqId: requestIdOf,
    ...logControl(Fastify),
  }) as unknown as FastifyInstance;

  useJsonBodies(app, options.maxJsonDepth ?? runtime.config.runtimeConfig.maxJsonDepth);
  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug({ method: request.method, url: loggableUrl(request), statusCode: reply.statusCode, ms: reply.elapsedTime }, 'request completed');
  });
  app.setErrorHandler((error, request, reply) => {
    const refusal = pluginRefusal(request, error);
    if (refusal) return reply.code(refusal.status).type('application/json; charset=utf-8').send({ error: refusal.message });
    const response = errorResponse(error, request.id, bodyLimitBytes);
    if (response.internal) {
      const url = loggableUrl(request);
      request.log.error({ err: error, url }, `request ${request.id} failed: ${request.method} ${url}`);
    }
    return reply.code(response.status).type('application/json; charset=utf-8').send(response.body);
  });
  app.setNotFoundHandler((request, reply) => {
    const url = request.url.length > 200 ? `${request.url.slice(0, 200)}…` : request.url;
    return reply.code(404).send({ error: `no route for ${request.method} ${url}` });
  });

  app.get(HEALTH_PATH, async (_request, reply) => {
    // Anything but running (recovering, stopping) is not ready for traffic: a load balancer should look elsewhere.
    const state = runtime.state;
    if (state === 'running') return { status: 'ok', state, activeWorkflows: runtime.executor.activeCount };
    return reply.code(503).send({ status: 'unavailable', state });
  });

  // Public, as the routes it describes are: a client needs it to call the app, and it holds nothing
  // else (no /operon/* route, no data). Made on first request, from the registered classes.
  let openApi: string | undefined;
  app.get(OPENAPI_PATH, async (_request, reply) => {
    openApi ??= JSON.stringify(openApiDocument(runtime.registry, appInfo(runtime.config.appDir)));
    return reply.type('application/json; charset=utf-8').send(openApi);
  });

  // Every other /operon/* route is a management route: viewer or admin role (management-access.ts).
  const taken = new Map<string, string>([[`GET ${HEALTH_PATH}`, 'Operon'], [`GET ${OPENAPI_PATH}`, 'Operon']]);
  for (const route of [...managementRoutes(runtime), metricsRoute(runtime)]) {
    app.route(route);
    for (const method of [route.method].flat()) taken.set(`${method} ${route.url}`, 'Operon');
  }
  serveDashboard(app, runtime);
  taken.set(`GET ${DASHBOARD_PATH}`, 'Operon');
  const byClass = new Map<object, ClassRoutes>();
  for (const fn of runtime.registry.all()) {
    const route = fn.method.http;
    if (!route) continue;
    const key = `${route.method} ${route.path}`;
    const owner = taken.get(key);
    if (owner) throw new OperonHttpRouteError(`${fn.name} and ${owner} both serve ${key}; give each route its own method and path`);
    taken.set(key, fn.name);
    let options: RouteOptions;
    try {
      options = handlerRoute(runtime, fn, route, logger);
    } catch (error) {
      // Operon's own errors (a route, an authenticator setting) already name what is wrong.
      if (error instanceof OperonError) throw error;
      throw new OperonHttpRouteError(`cannot serve ${key} for ${fn.name}: ${(error as Error).message}`);
    }
    const routes = byClass.get(fn.cls) ?? { registration: fn.classRegistration, routes: [] };
    (routes.routes as { name: string; route: RouteOptions }[]).push({ name: fn.name, route: options });
    byClass.set(fn.cls, routes);
  }
  registerClassRoutes(app, [...byClass.values()]);
  try {
    await app.ready();
  } catch (error) {
    await app.close().catch(() => undefined);
    // A class's plugin or route that failed in its own context says so itself.
    if (error instanceof OperonError) throw error;
    throw new OperonHttpRouteError(`cannot build the HTTP routes: ${(error as Error).message}`);
  }
  return app;
}
