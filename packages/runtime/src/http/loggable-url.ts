/**
 * The URL a request log line shows. A handler that masks arguments (`@LogMask`, `@SkipLogging`)
 * may receive them in its path or query string, so its requests are logged by route pattern
 * (`/login/:user`) instead: the values stay out of every line.
 */
import type { FastifyRequest } from 'fastify';

/** The route config flag a handler route sets when its handler masks arguments. */
export const MASK_URL_IN_LOGS = 'operonMaskUrlInLogs';

export function loggableUrl(request: FastifyRequest): string {
  const config = request.routeOptions?.config as unknown as Record<string, unknown> | undefined;
  if (config?.[MASK_URL_IN_LOGS] !== true) return request.url;
  return request.routeOptions.url ?? '(url not logged)';
}
