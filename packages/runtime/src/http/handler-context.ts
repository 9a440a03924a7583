/**
 * The context a handler runs with: one per HTTP request. It starts workflows under the UUID the
 * client chose (`operon-workflowuuid`), records the request with them, and remembers which
 * workflow the request started so the response can name it.
 */
import type { HandlerContext, HandlerInvokerOf, HttpReply, HttpRequest, OperonLogger, WorkflowHandle } from '@operon/sdk';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { OperonError } from '@operon/sdk';
import type { OperonRuntime } from '../runtime.js';
import { lazyLogger, readConfigPath } from '../executor/operation-context.js';
import { NOOP_RUNTIME_SPAN, type RuntimeSpan } from '../telemetry/tracing.js';
import type { WorkflowIdentity } from '../system-db/system-database.js';
import { derivedUUID } from '../client/identifiers.js';
import { recordedRequest, type RecordedRequest } from './recorded-request.js';
import { invokeArgument } from '../client/operon-client.js';

export { recordedRequest, type RecordedRequest };

/**
 * The workflow UUIDs of one request. With a client-chosen UUID `U`, the first workflow started
 * without an explicit UUID is `U` and later ones are derived from it (`U~r1`, `U~r2`, …, in the
 * namespace no client UUID can enter), so a retried request finds every one of its workflows
 * again and no other client can claim one. Without one, each workflow gets a random UUID.
 */
export class RequestWorkflows {
  private derived = 0;
  private first: string | undefined;

  constructor(private readonly chosenUUID: string | undefined) {}

  next(): { uuid: string; derived: boolean } | undefined {
    if (this.chosenUUID === undefined) return undefined;
    const n = this.derived++;
    return n === 0 ? { uuid: this.chosenUUID, derived: false } : { uuid: derivedUUID(this.chosenUUID, 'r', n), derived: true };
  }

  started(workflowUUID: string): void {
    this.first ??= workflowUUID;
  }

  /** The first workflow this request started, named in the response's `operon-workflowuuid`. */
  get startedUUID(): string | undefined {
    return this.first;
  }
}

/**
 * Makes the handler's own use of its reply known: `code()` (and `status()`, and the `statusCode`
 * setter, which call it) because 200 is also Fastify's starting value, so comparing cannot tell
 * it was set; `send()` (and `redirect()`, which calls it) because `reply.sent` turns true only once
 * the response is written, after any asynchronous onSend hook: a second send would start before.
 */
function watchReply(reply: FastifyReply, on: { status(): void; send(): void }): void {
  const code = reply.code;
  const watchedCode = function (this: FastifyReply, statusCode: number) {
    on.status();
    return code.call(this, statusCode);
  } as FastifyReply['code'];
  reply.code = watchedCode;
  reply.status = watchedCode;
  const send = reply.send;
  reply.send = function (this: FastifyReply, payload?: unknown) {
    on.send();
    return send.call(this, payload);
  } as FastifyReply['send'];
}

export class HandlerContextImpl implements HandlerContext {
  private readonly log: () => OperonLogger;
  private readonly recorded: RecordedRequest;
  private replyWatched = false;
  private chosen = false;
  private started = false;

  constructor(
    private readonly runtime: OperonRuntime,
    readonly request: HttpRequest,
    private readonly identity: WorkflowIdentity,
    private readonly workflows: RequestWorkflows,
    handlerName: string,
    logger: Logger = runtime.logger,
    /** The handler's span: every workflow the handler starts is its child. */
    readonly span: RuntimeSpan = NOOP_RUNTIME_SPAN,
    /** The handler's logger, when the route made it already (it logs the handler's start). */
    log?: () => OperonLogger,
    private readonly fastifyReply?: FastifyReply,
    /** Recorded in place of the URL sent: the route pattern of a handler that masks arguments. */
    recordedUrl?: string,
  ) {
    this.recorded = recordedRequest(request, recordedUrl);
    this.log =
      log ??
      lazyLogger(logger, () => ({
        requestID: request.requestID,
        operationName: handlerName,
        operationType: 'handler',
      }));
  }

  get authenticatedUser(): string {
    return this.identity.authenticatedUser;
  }
  get authenticatedRoles(): readonly string[] {
    return this.identity.authenticatedRoles;
  }
  get assumedRole(): string {
    return this.identity.assumedRole;
  }
  get logger(): OperonLogger {
    return this.log();
  }
  get reply(): HttpReply & FastifyReply {
    if (!this.fastifyReply) throw new OperonError('ctx.reply exists only in a handler serving an HTTP request');
    if (!this.replyWatched) {
      this.replyWatched = true;
      watchReply(this.fastifyReply, { status: () => (this.chosen = true), send: () => (this.started = true) });
    }
    return this.fastifyReply;
  }

  /** True once the handler set a status through `ctx.reply`, 200 included. */
  get statusChosen(): boolean {
    return this.chosen;
  }

  /** True once the handler sent its reply itself through `ctx.reply` (`send`, `redirect`). */
  get replyStarted(): boolean {
    return this.started;
  }

  getConfig<T>(key: string, defaultValue?: T): T | undefined {
    return readConfigPath(this.runtime.config.application, key, defaultValue);
  }

  invoke<T extends object>(cls: T, argument?: string | object): HandlerInvokerOf<T> {
    const { workflowUUID, queue } = invokeArgument(argument);
    return this.runtime.client.invoke(cls, {
      queue,
      identity: this.identity,
      // A copy each: a workflow that changes its ctx.request must not change the next one's record.
      request: structuredClone(this.recorded),
      parentSpan: this.span,
      nextWorkflowUUID: () => (workflowUUID === undefined ? this.workflows.next() : { uuid: workflowUUID, derived: false }),
      onStart: (uuid) => this.workflows.started(uuid),
    });
  }

  retrieveWorkflow<R = unknown>(workflowUUID: string): WorkflowHandle<R> {
    return this.runtime.client.retrieveWorkflow<R>(workflowUUID);
  }

  send<M>(destinationUUID: string, message: M, topic?: string, idempotencyKey?: string): Promise<void> {
    return this.runtime.client.send(destinationUUID, message, topic, idempotencyKey);
  }

  getEvent<V = unknown>(workflowUUID: string, key: string, timeoutSeconds = 60): Promise<V | null> {
    return this.runtime.client.getEvent<V>(workflowUUID, key, timeoutSeconds);
  }
}
