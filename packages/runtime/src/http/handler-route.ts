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
import type { RegisteredFunction } from '../executor/function-registry.js';
import type { OperonRuntime } from '../runtime.js';
import { authenticate } from './authentication.js';
import { HandlerContextImpl, RequestWorkflows } from './handler-context.js';
import { handlerParameters } from './parameter-names.js';
import { WORKFLOW_UUID_HEADER, workflowUUIDOf } from './request-ids.js';
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

function send(reply: FastifyReply, result: unknown): FastifyReply {
  if (result === undefined) return reply.code(204).send();
  if (typeof result === 'string') return reply.type('text/plain; charset=utf-8').send(result);
  if (result instanceof Uint8Array) return reply.type('application/octet-stream').send(result);
  return reply.type('application/json; charset=utf-8').send(JSON.stringify(result));
}

/** A handler that is itself a workflow, transaction or communicator runs as `ctx.invoke(cls).method(...)`. */
async function invokeAsOperation(ctx: HandlerContextImpl, fn: RegisteredFunction, args: unknown[]): Promise<unknown> {
  const invoker = ctx.invoke(fn.cls) as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const result = await invoker[fn.method.methodName]!(...args);
  if (fn.method.kind !== 'workflow') return result;
  return (result as { getResult(): Promise<unknown> }).getResult();
}

export function handlerRoute(runtime: OperonRuntime, fn: RegisteredFunction, route: HttpRoute, logger: Logger): RouteOptions {
  const parameters = handlerParameters(fn.method.fn, fn.name);
  return {
    method: route.method,
    url: route.path,
    schema: route.schema,
    handler: async (request, reply) => {
      const workflows = new RequestWorkflows(workflowUUIDOf(request.headers));
      // Set before the response is sent, on errors too: the client can then look up the workflow that failed.
      const nameWorkflow = () => {
        if (workflows.startedUUID !== undefined) reply.header(WORKFLOW_UUID_HEADER, workflows.startedUUID);
      };
      let result: unknown;
      try {
        const httpRequest = httpRequestOf(request);
        const identity = await authenticate(runtime, fn, httpRequest);
        const args = bindArguments(fn.name, route.method, parameters, httpRequest);
        const ctx = new HandlerContextImpl(runtime, httpRequest, identity, workflows, fn.name, logger);
        result = fn.method.kind ? await invokeAsOperation(ctx, fn, args) : await fn.method.fn.call(fn.cls, ctx, ...args);
      } catch (error) {
        nameWorkflow();
        throw error;
      }
      nameWorkflow();
      return send(reply, result);
    },
  };
}
