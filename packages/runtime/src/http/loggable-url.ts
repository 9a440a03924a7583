/**
 * The URL a request log line shows: the values of secret-looking query parameters are replaced
 * (as in the recorded request), and a handler that masks arguments (`@LogMask`, `@SkipLogging`)
 * may receive them in its path or query string, so its requests are logged by route pattern
 * (`/login/:user`) instead: the values stay out of every line.
 */
import type { FastifyRequest } from 'fastify';
import { redactUrl } from './recorded-request.js';

/** The route config flag a handler route sets when its handler masks arguments. */
export const MASK_URL_IN_LOGS = 'operonMaskUrlInLogs';

export function loggableUrl(request: FastifyRequest): string {
  const config = request.routeOptions?.config as unknown as Record<string, unknown> | undefined;
  if (config?.[MASK_URL_IN_LOGS] !== true) return redactUrl(request.url);
  return request.routeOptions.url ?? '(url not logged)';
}
