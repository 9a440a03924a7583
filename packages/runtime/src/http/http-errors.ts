/**
 * The HTTP server's own errors, and how any error becomes a response. Only errors Operon or the
 * app chose to expose show their message; everything else is a 500 that names the request id and
 * nothing else, so no stack trace or internal detail reaches a client.
 */
import { OperonError, OperonResponseError } from '@operon/sdk';

/** A handler cannot be served: its route, parameters or schema are unusable. Thrown at startup. */
export class OperonHttpRouteError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_HTTP_ROUTE';
}

/** A class's `@FastifyPlugin` threw while it was registered: the start stops. */
export class OperonHttpPluginError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_HTTP_PLUGIN';
}

/** A request lacks an argument the handler needs: answered with 400. */
export class OperonHttpMissingArgumentError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_HTTP_MISSING_ARGUMENT';
  readonly status = 400;
  readonly missing: readonly string[];
  /** `where` says where every missing argument is read from ("in the query string"). */
  constructor(readonly handler: string, missing: readonly { name: string; where: string }[]) {
    const wheres = new Set(missing.map((m) => m.where));
    const one = wheres.size === 1 ? [...wheres][0] : undefined;
    const names = missing.map((m) => (one ? `"${m.name}"` : `"${m.name}" (${m.where})`)).join(', ');
    const them = missing.length === 1 ? 'it' : 'them';
    super(`missing argument${missing.length === 1 ? '' : 's'} ${names} of ${handler}` + (one ? `: pass ${them} ${one}` : ''));
    this.missing = missing.map((m) => m.name);
  }
}

/** A request's argument is present but not of the kind the handler declared: answered with 400. */
export class OperonHttpInvalidArgumentError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_HTTP_INVALID_ARGUMENT';
  readonly status = 400;
  constructor(readonly handler: string, readonly argument: string, expected: string, got: unknown) {
    const shown = typeof got === 'string' ? JSON.stringify(got.length > 40 ? `${got.slice(0, 37)}...` : got) : typeof got;
    super(`argument "${argument}" of ${handler} must be ${expected}, got ${shown}`);
  }
}

/** The request body claims to be JSON and is not: answered with 400. */
export class OperonHttpMalformedJsonError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_HTTP_MALFORMED_JSON';
  readonly status = 400;
}

export interface ErrorResponse {
  readonly status: number;
  readonly body: Record<string, unknown>;
  /** True when the error is not one a client may see: log it with its stack. */
  readonly internal: boolean;
}

interface FastifyLikeError {
  code?: unknown;
  statusCode?: unknown;
  validation?: unknown;
  message?: unknown;
}

function isHttpStatus(value: unknown, min = 100): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= 599;
}

/** Fastify's own rejections (parsing, limits, validation) happen before a handler runs. */
function fastifyResponse(error: FastifyLikeError, bodyLimitBytes: number): ErrorResponse | undefined {
  // A client that hung up mid-body: Node says "aborted" (ECONNRESET), Fastify makes it a 400. The
  // client's doing, not the server's: no internal error (nobody reads the answer anyway).
  const hungUp = error.code === 'ECONNRESET';
  const fromFastify = hungUp || error.validation !== undefined || (typeof error.code === 'string' && error.code.startsWith('FST_ERR_'));
  if (!fromFastify || !isHttpStatus(error.statusCode, 400) || error.statusCode >= 500) return undefined;
  let message = String(error.message);
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    message = `the request body is larger than the limit of ${bodyLimitBytes} bytes (runtimeConfig.bodyLimitBytes)`;
  } else if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    message = 'unsupported content type: send the request body as application/json';
  }
  return { status: error.statusCode, body: { error: message }, internal: false };
}

/** The status and body that answer `error`. */
export function errorResponse(error: unknown, requestID: string, bodyLimitBytes: number): ErrorResponse {
  const internal: ErrorResponse = { status: 500, body: { error: 'Internal Server Error', requestID }, internal: true };
  if (typeof error !== 'object' || error === null) return internal;
  const fastify = fastifyResponse(error as FastifyLikeError, bodyLimitBytes);
  if (fastify) return fastify;
  if (!(error instanceof OperonError)) return internal;
  const message = error.message;
  // Each error states its own status where it is defined (404 not found, 409 conflict, 503 shutdown…).
  const status = (error as { status?: unknown }).status;
  // A response error is the app speaking to its client: its message is meant to be read.
  if (error instanceof OperonResponseError && isHttpStatus(status, 200)) return { status, body: { error: message }, internal: false };
  if (isHttpStatus(status, 400) && (status < 500 || status === 503)) return { status, body: { error: message }, internal: false };
  return internal;
}
