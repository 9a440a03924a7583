/**
 * Who may use the `/operon/*` routes. Reads need `operon-viewer` or `operon-admin`, changes
 * `operon-admin`. A caller is identified by the management token (`management.token`, granting
 * `operon-admin`) sent as a bearer token, as the `operon_token` cookie, or once as `?token=` (the
 * dashboard link; the answer then sets the cookie, so the page's own requests carry it); or, with
 * `management.jwt: true`, by a bearer JWT verified with the app's `authentication.jwt` settings,
 * its roles from the claim. With neither configured, each start makes a random token.
 * No identity: 401; an identity without the role: 403. A change authorized by the cookie must
 * come from the server's own origin (see {@link sentFromOwnOrigin}): 403 otherwise.
 */
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { OperonError, OperonNotAuthenticatedError, OperonNotAuthorizedError, type Authenticator } from '@operon/sdk';
import { bearerChallenge, bearerToken, wwwAuthenticateOf } from '../auth/bearer-token.js';
import { BIND_TO_CONFIG, jwtAuthenticator } from '../auth/jwt-authenticator.js';
import type { OperonRuntime } from '../runtime.js';
import { checkQueryKeys } from './request-parameters.js';

export const VIEWER_ROLE = 'operon-viewer';
export const ADMIN_ROLE = 'operon-admin';
/** The cookie the dashboard link sets: scoped to `/operon`, unreadable by scripts, never sent cross-site. */
export const TOKEN_COOKIE = 'operon_token';

/**
 * The Set-Cookie value that carries the management token. `Secure` when the request came over
 * HTTPS, here or at a proxy in front (X-Forwarded-Proto: https): the browser then never sends it
 * over plain HTTP. Believing the header costs nothing: Secure only narrows where the cookie goes.
 */
export function tokenCookie(request: FastifyRequest, token: string): string {
  const forwarded = String(request.headers['x-forwarded-proto'] ?? '').split(',')[0]!.trim().toLowerCase();
  const secure = request.protocol === 'https' || forwarded === 'https';
  return `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/operon; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}
/** The name the management token's holder is recorded under in the audit log. */
export const TOKEN_USER = 'management-token';

/** What a route needs: `read` (viewer or admin) or `change` (admin). */
export type ManagementAccessLevel = 'read' | 'change';

export interface ManagementCaller {
  readonly user: string;
  readonly roles: readonly string[];
  /** How the caller was identified. */
  readonly via: 'token' | 'jwt';
}

const ROLES_FOR: Record<ManagementAccessLevel, readonly string[]> = {
  read: [VIEWER_ROLE, ADMIN_ROLE],
  change: [ADMIN_ROLE],
};

/** A change authorized by the management cookie, sent by a page of another origin: answered with 403. */
export class OperonManagementCrossOriginError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_MANAGEMENT_CROSS_ORIGIN';
  readonly status = 403;
}

/**
 * Whether a browser sent `request` from the server's own origin. SameSite=Strict keeps the cookie
 * off cross-site requests only, and a site ignores ports and subdomains: a page on another port
 * of the same host could otherwise make the browser send a change with the cookie. Browsers tell
 * where a request comes from (Sec-Fetch-Site, Origin on every POST); a client that sends neither
 * is no browser, and whoever runs it holds the cookie's token already.
 */
function sentFromOwnOrigin(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === request.host;
  } catch {
    return false; // "null" (a sandboxed frame, a redirect across origins) or garbage
  }
}

/** Equal-length digests compared in constant time: neither the token nor its length leaks through timing. */
function sameToken(given: string, expected: Buffer): boolean {
  return timingSafeEqual(createHash('sha256').update(given).digest(), expected);
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

export class ManagementAccess {
  /** The token in force: the configured one, or the one made for this start. */
  readonly token: string;
  /** Whether {@link token} was made at this start (nothing was configured). */
  readonly generated: boolean;
  private readonly tokenDigest: Buffer;
  private readonly jwt: Authenticator | undefined;

  constructor(private readonly runtime: OperonRuntime) {
    const { management } = runtime.config;
    this.generated = management.token === undefined && !management.jwt;
    this.token = management.token ?? randomBytes(24).toString('base64url');
    this.tokenDigest = createHash('sha256').update(this.token).digest();
    const warn = (message: string) => runtime.logger.warn(message);
    this.jwt = management.jwt ? jwtAuthenticator()[BIND_TO_CONFIG](runtime.config, 'the management API', warn) : undefined;
  }

  /** Whether a token identifies callers: configured, or made at this start. */
  get acceptsToken(): boolean {
    return this.runtime.config.management.token !== undefined || this.generated;
  }

  /** The dashboard's link for `baseUrl` (with the token when this start made one). */
  dashboardUrl(baseUrl: string): string {
    const base = `${baseUrl.replace(/\/$/, '')}/operon/dashboard`;
    return this.generated ? `${base}?token=${this.token}` : base;
  }

  /**
   * The caller of `request`, or the 401. `fromQuery` is set when the token came as `?token=`, so
   * the answer can set the cookie.
   */
  async identify(request: FastifyRequest): Promise<{ caller: ManagementCaller; fromQuery: boolean; fromCookie?: true }> {
    const header = request.headers.authorization;
    if (header !== undefined && header !== '') {
      const token = bearerToken(request.headers);
      if (this.acceptsToken && sameToken(token, this.tokenDigest)) return { caller: this.tokenCaller(), fromQuery: false };
      if (this.jwt) {
        const result = await this.jwt({ request: requestOf(request), logger: request.log, getConfig: () => undefined } as never);
        const identity = result as { authenticatedUser: string; authenticatedRoles: string[] };
        return { caller: { user: identity.authenticatedUser, roles: identity.authenticatedRoles, via: 'jwt' }, fromQuery: false };
      }
      throw bearerChallenge('the bearer token is not the management token', 'invalid_token');
    }
    if (this.acceptsToken) {
      const cookie = cookieValue(request.headers.cookie, TOKEN_COOKIE);
      if (cookie !== undefined) {
        if (sameToken(cookie, this.tokenDigest)) return { caller: this.tokenCaller(), fromQuery: false, fromCookie: true };
        throw new OperonNotAuthenticatedError(`the ${TOKEN_COOKIE} cookie does not hold the management token (it changes at each start): open the dashboard link again`);
      }
      const query = (request.query as Record<string, unknown> | undefined)?.token;
      if (typeof query === 'string') {
        if (sameToken(query, this.tokenDigest)) return { caller: this.tokenCaller(), fromQuery: true };
        throw new OperonNotAuthenticatedError('the token in the link is not the management token (it changes at each start)');
      }
    }
    throw bearerChallenge(`${request.method} ${request.routeOptions.url ?? request.url} needs a management identity: send "Authorization: Bearer <token>"`);
  }

  /** The caller of `request` if it may use a route of `level`; else the 401 or 403. */
  async authorize(request: FastifyRequest, reply: FastifyReply, level: ManagementAccessLevel): Promise<ManagementCaller> {
    const { caller, fromQuery, fromCookie } = await this.identify(request);
    const needed = ROLES_FOR[level];
    if (!caller.roles.some((role) => needed.includes(role))) {
      throw new OperonNotAuthorizedError(`${request.method} ${request.routeOptions.url ?? request.url}`, needed);
    }
    if (level === 'change' && fromCookie && !sentFromOwnOrigin(request)) {
      throw new OperonManagementCrossOriginError(
        `${request.method} ${request.routeOptions.url ?? request.url} was sent with the ${TOKEN_COOKIE} cookie from another origin (${request.headers.origin ?? request.headers['sec-fetch-site']}): a change by cookie must come from this server's own pages; other clients send "Authorization: Bearer <token>"`,
      );
    }
    if (fromQuery) {
      reply.header('set-cookie', tokenCookie(request, this.token));
    }
    return caller;
  }

  private tokenCaller(): ManagementCaller {
    return { user: TOKEN_USER, roles: [ADMIN_ROLE], via: 'token' };
  }
}

/** The request as an `@Authentication` function sees it: only its headers matter to the JWT check. */
function requestOf(request: FastifyRequest): { headers: FastifyRequest['headers']; method: string; url: string } {
  return { headers: request.headers, method: request.method, url: request.url };
}

/** One access per runtime: a generated token stays the same for every route and the startup line. */
const accesses = new WeakMap<OperonRuntime, ManagementAccess>();

export function managementAccess(runtime: OperonRuntime): ManagementAccess {
  let access = accesses.get(runtime);
  if (!access) accesses.set(runtime, (access = new ManagementAccess(runtime)));
  return access;
}

/** What a management route's handler is given: the request, the reply and the caller, identified and authorized. */
export type ManagementHandler = (request: FastifyRequest, reply: FastifyReply, caller: ManagementCaller) => unknown;

export interface ManagementRouteOptions {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Under `/operon/`. */
  readonly url: string;
  readonly access: ManagementAccessLevel;
  /**
   * The query keys the route reads (besides the dashboard link's `token`); any other is a 400.
   * `'filter'`: the workflow list's, which its handler checks with the filters. @default none
   */
  readonly query?: readonly string[] | 'filter';
  readonly handler: ManagementHandler;
}

/**
 * A Fastify route under management access: every `/operon/*` route but health is one of these.
 * `app.route(managementRoute(runtime, { method: 'GET', url: '/operon/queues', access: 'read', handler }))`.
 */
export function managementRoute(runtime: OperonRuntime, options: ManagementRouteOptions): RouteOptions {
  const access = managementAccess(runtime);
  return {
    method: options.method,
    url: options.url,
    handler: async (request, reply) => {
      let caller: ManagementCaller;
      try {
        caller = await access.authorize(request, reply, options.access);
      } catch (error) {
        const challenge = wwwAuthenticateOf(error);
        if (challenge !== undefined) reply.header('www-authenticate', challenge);
        throw error;
      }
      if (options.query !== 'filter') checkQueryKeys(request.query, `${options.method} ${options.url}`, options.query ?? []);
      return options.handler(request, reply, caller);
    },
  };
}
