/**
 * What of an HTTP request is recorded with the workflows it starts (and returned by
 * `getStatus().request`, and shown as `ctx.request` after recovery). Records live as long as the
 * workflow and are read by anyone who may read workflows, so they keep what helps to trace a
 * request and nothing that may be a credential: headers only from an allow-list (an app's
 * `x-api-key` or a proxy's session header never gets in), and the URL with the values of
 * secret-looking query parameters (`?access_token=…`, `?sig=…`) replaced.
 */
import type { HttpRequest, RecordedHttpRequest } from '@operon/sdk';

/** The headers recorded, by lower-case name; any other header is left out. */
export const RECORDED_HEADERS: ReadonlySet<string> = new Set([
  'accept',
  'accept-encoding',
  'accept-language',
  'content-length',
  'content-type',
  'host',
  'operon-workflowuuid',
  'origin',
  'traceparent',
  'tracestate',
  'user-agent',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-request-id',
]);

/** What replaces the value of a secret-looking query parameter. */
export const REDACTED = 'REDACTED';

/**
 * Query parameter names that carry credentials in the wild: OAuth's `access_token` and `code`,
 * `api_key`/`apikey`, `client_secret`, `password`/`pass`, signed URLs' `signature` and `sig` (S3,
 * Azure SAS), `session`/`sid`, `jwt`, `auth`, and `authorization`/`bearer` (browser WebSocket and
 * EventSource clients cannot set headers, so a token travels in the query string).
 */
const SECRET_PARAMETER = /token|key|secret|passw|pwd|signature|credential|code|bearer|^authori[sz]ation$|^pass$|^sid$|^sig$|^auth$|^session|^jwt$/i;

export function isSecretParameter(name: string): boolean {
  return SECRET_PARAMETER.test(name);
}

/** `url` with the value of every secret-looking query parameter replaced by {@link REDACTED}; the rest as sent. */
export function redactUrl(url: string): string {
  const mark = url.indexOf('?');
  if (mark === -1) return url;
  const hash = url.indexOf('#', mark);
  const query = url.slice(mark + 1, hash === -1 ? undefined : hash);
  const parts = query.split('&').map((part) => {
    const eq = part.indexOf('=');
    const rawName = eq === -1 ? part : part.slice(0, eq);
    let name: string;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' '));
    } catch {
      name = rawName;
    }
    return eq !== -1 && isSecretParameter(name) ? `${rawName}=${REDACTED}` : part;
  });
  return `${url.slice(0, mark)}?${parts.join('&')}`;
}

/** What is recorded with each workflow a request starts. */
export interface RecordedRequest extends RecordedHttpRequest {
  readonly headers: Record<string, string | string[]>;
}

/**
 * `routePattern` replaces the URL of a handler that masks arguments (`@LogMask`, `@SkipLogging`):
 * they may be in its path or query string, and the record must keep them out as its logs do.
 */
export function recordedRequest(request: HttpRequest, routePattern?: string): RecordedRequest {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined && RECORDED_HEADERS.has(name)) headers[name] = value;
  }
  return { method: request.method, url: routePattern ?? redactUrl(request.url), headers, requestID: request.requestID };
}
