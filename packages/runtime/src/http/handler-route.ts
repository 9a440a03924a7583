/**
 * One Fastify route per registered `@GetApi`/`@PostApi`/… method. A request reads its workflow
 * UUID header, authenticates, binds arguments by name, runs the handler with a fresh context, and
 * answers with the return value: a string as text/plain, `undefined` as 204 No Content, any other
 * value as JSON. A method that is also a workflow, transaction or communicator is invoked as one
 * (under the request's workflow UUID) and answers with its result.
 */
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { Logger } from 'pino';
import type { HttpRequest, HttpRoute } from '@operon/sdk';
import type { WorkflowIdentity } from '../system-db/system-database.js';
import type { RegisteredFunction } from '../executor/function-registry.js';
import type { OperonRuntime } from '../runtime.js';
import { wwwAuthenticateOf } from '../auth/bearer-token.js';
import { isConfigurable } from '../auth/jwt-authenticator.js';
import { lazyLogger } from '../executor/operation-context.js';
import { hasLogMasks, inputsAttribute, loggableInputs } from '../telemetry/log-masking.js';
import { NOOP_RUNTIME_SPAN } from '../telemetry/tracing.js';
import { refusalFor, requestAuthentication } from './authentication.js';
import { handlerSpans } from './handler-span.js';
import { MASK_URL_IN_LOGS } from './loggable-url.js';
import { HandlerContextImpl, RequestWorkflows } from './handler-context.js';
import { boundParameters } from './handler-arguments.js';
import { isSaneId, WORKFLOW_UUID_HEADER, workflowUUIDOf } from './request-ids.js';
import { bindArguments } from './route-binding.js';

function httpRequestOf(request: FastifyRequest): HttpRequest {
  return {
    method: request.method,
    url: request.url,
    headers: request.headers,
    params: (request.params ?? {}) as Record<string, unknown>,
    query: (request.query ?? {}) as Record<string, unknown>,
    body: request.body,
    requestID: request.id,
  };
}

/**
 * The return value is the body. What the handler set through `ctx.reply` stands: a status code
 * (`undefined` is then an empty body with that status, else 204), a content type, or a reply it
 * sent itself (`ctx.reply.redirect(...)`).
 */
function send(reply: FastifyReply, result: unknown, defaultStatus: boolean): FastifyReply {
  if (reply.sent) return reply;
  if (result === undefined) return (defaultStatus ? reply.code(204) : reply).send();
  const typed = reply.hasHeader('content-type');
  if (typeof result === 'string') return (typed ? reply : reply.type('text/plain; charset=utf-8')).send(result);
  if (result instanceof Uint8Array) return (typed ? reply : reply.type('application/octet-stream')).send(result);
  return (typed ? reply : reply.type('application/json; charset=utf-8')).send(JSON.stringify(result));
}

/** A handler that is itself a workflow, transaction or communicator runs as `ctx.invoke(cls).method(...)`. */
async function invokeAsOperation(ctx: HandlerContextImpl, fn: RegisteredFunction, args: unknown[]): Promise<unknown> {
  const invoker = ctx.invoke(fn.cls) as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const result = await invoker[fn.method.methodName]!(...args);
  if (fn.method.kind !== 'workflow') return result;
  return (result as { getResult(): Promise<unknown> }).getResult();
}

export function handlerRoute(runtime: OperonRuntime, fn: RegisteredFunction, route: HttpRoute, logger: Logger): RouteOptions {
  const parameters = boundParameters(fn, route);
  const authenticate = requestAuthentication(runtime, fn);
  const authenticator = fn.classRegistration.authenticator;
  const bearer = authenticator !== undefined && isConfigurable(authenticator);
  const spans = handlerSpans(runtime, fn, route);
  // Masked arguments may be in the path or query string: logs and records then show the route pattern.
  const masksUrl = hasLogMasks(fn);
  return {
    method: route.method,
    url: route.path,
    schema: route.schema,
    config: { [MASK_URL_IN_LOGS]: masksUrl } as RouteOptions['config'],
    ...spans?.hooks,
    handler: async (request, reply) => {
      const workflows = new RequestWorkflows(workflowUUIDOf(request.headers));
      // Set before the response is sent, on errors too: the client can then look up the workflow that failed.
      // Only a visible-ASCII UUID: a header carries bytes, and Node refuses characters beyond
      // Latin-1 (the response would be lost) and sends Latin-1 ones as other bytes than the client's.
      const nameWorkflow = () => {
        const uuid = workflows.startedUUID;
        if (uuid !== undefined && isSaneId(uuid)) reply.header(WORKFLOW_UUID_HEADER, uuid);
      };
      let result: unknown;
      // Fastify starts every reply at 200: anything else, or a code() call through ctx.reply, was the handler's choice.
      const statusBefore = reply.statusCode;
      let identity: WorkflowIdentity | undefined;
      let ctx: HandlerContextImpl | undefined;
      try {
        const httpRequest = httpRequestOf(request);
        const span = spans?.spanOf(request) ?? NOOP_RUNTIME_SPAN;
        const log = lazyLogger(logger, () => ({ requestID: request.id, operationName: fn.name, operationType: 'handler' }));
        identity = await authenticate(httpRequest, log);
        const args = bindArguments(fn.name, route.method, parameters, httpRequest);
        if (span !== NOOP_RUNTIME_SPAN) span.setAttribute('operon.inputs', inputsAttribute(fn, args));
        if (logger.isLevelEnabled('debug')) log().debug({ inputs: loggableInputs(fn, args) }, `handler ${fn.name} started`);
        ctx = new HandlerContextImpl(runtime, httpRequest, identity, workflows, fn.name, logger, span, log, reply, masksUrl ? route.path : undefined);
        result = fn.method.kind ? await invokeAsOperation(ctx, fn, args) : await fn.method.fn.call(fn.cls, ctx, ...args);
      } catch (caught) {
        nameWorkflow();
        // The handler's own reply is on its way: an error response now would be a second one.
        if (ctx?.replyStarted) {
          request.log.error({ err: caught }, `handler ${fn.name} failed after sending its reply`);
          return reply;
        }
        const error = refusalFor(caught, identity, bearer);
        // RFC 6750 §3: a 401 to a bearer-token client names the scheme and what was wrong.
        const challenge = wwwAuthenticateOf(error);
        if (challenge !== undefined) reply.header('www-authenticate', challenge);
        throw error;
      }
      nameWorkflow();
      if (ctx?.replyStarted) return reply;
      return send(reply, result, !ctx?.statusChosen && reply.statusCode === statusBefore);
    },
  };
}
