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

/** A request lacks an argument the handler needs: answered with 400. */
export class OperonHttpMissingArgumentError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_HTTP_MISSING_ARGUMENT';
  readonly status = 400;
  constructor(readonly handler: string, readonly missing: readonly string[], where: string) {
    const names = missing.map((name) => `"${name}"`).join(', ');
    super(
      missing.length === 1
        ? `missing argument ${names} of ${handler}: pass it ${where}`
        : `missing arguments ${names} of ${handler}: pass them ${where}`,
    );
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
