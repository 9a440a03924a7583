/**
 * The ready-made `@Authentication` function for bearer JWTs: verifies the signature with jose (an
 * HS* shared secret, or the keys of a JWKS URL), the expiry (a token without `exp` is refused
 * unless `requireExp: false`), the token's age when `maxTokenAgeSeconds` is set, and `iss`/`aud`
 * when configured, and makes the token's user and roles claims the caller's identity.
 *
 * Its settings come from `authentication.jwt` in operon-config.yaml, overridden by the options
 * given in code. The runtime binds it to its config once, when it builds the routes, so a missing
 * setting stops startup rather than failing every request, and one runtime shares one key cache.
 */
import { OperonResponseError, type AuthenticationResult, type Authenticator } from '@operon/sdk';
import type { JWTPayload, JWTVerifyOptions } from 'jose';
import type { OperonConfig, ResolvedJwtConfig } from '../config/config-types.js';
import { OperonJwtNotConfiguredError } from './auth-errors.js';
import { bearerChallenge, bearerToken } from './bearer-token.js';

/** What `jwtAuthenticator(options)` accepts: any of `authentication.jwt`'s keys, which it overrides. */
export interface JwtAuthenticatorOptions {
  /** An HS256/HS384/HS512 shared secret (at least 32 bytes). */
  readonly secret?: string | Uint8Array;
  /** The URL of a JSON Web Key Set with the issuer's public keys. */
  readonly jwksUrl?: string;
  readonly issuer?: string;
  readonly audience?: string;
  /** @default 'roles' */
  readonly rolesClaim?: string;
  /** @default 'sub' */
  readonly userClaim?: string;
  /** Refuse tokens without `exp`. @default true */
  readonly requireExp?: boolean;
  /** Refuse tokens whose `iat` is older than this. @default undefined (no limit beyond `exp`) */
  readonly maxTokenAgeSeconds?: number;
  /** Allowed clock difference with the issuer for `exp`, `nbf` and `iat`. @default 0 */
  readonly clockToleranceSeconds?: number;
}

/** Marks an authenticator that takes settings from the runtime's config; `Symbol.for` so any copy of the runtime finds it. */
export const BIND_TO_CONFIG = Symbol.for('operon.authenticator.bindToConfig');

export interface ConfigurableAuthenticator extends Authenticator {
  /**
   * The authenticator with `config`'s settings; throws if they cannot work, and tells `warn` of
   * settings that work but leave a door open (no issuer or audience to check).
   */
  [BIND_TO_CONFIG](config: Pick<OperonConfig, 'authentication'>, className: string, warn?: (message: string) => void): Authenticator;
}

/** Asymmetric algorithms only for a key set: accepting HS* there would invite algorithm confusion. */
const KEY_SET_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
const SECRET_ALGORITHMS = ['HS256', 'HS384', 'HS512'];
const MIN_SECRET_BYTES = 32;
const JWKS_TIMEOUT_MS = 5_000;

/**
 * The authenticator of bearer JWTs.
 * @example
 * ```ts
 * // operon-config.yaml: authentication: { jwt: { secret: ${JWT_SECRET} } }
 * @Authentication(jwtAuthenticator())
 * @DefaultRequiredRole(['user'])
 * export class Accounts { ... }
 * ```
 */
export function jwtAuthenticator(options: JwtAuthenticatorOptions = {}): ConfigurableAuthenticator {
  let unbound: Authenticator | undefined;
  const authenticator = ((request) => {
    // Called outside a runtime (say, from a unit test): only the options given in code apply.
    unbound ??= verifier(settingsOf(undefined, options, 'the class'));
    return unbound(request);
  }) as ConfigurableAuthenticator;
  authenticator[BIND_TO_CONFIG] = (config, className, warn) => {
    const settings = settingsOf(config.authentication?.jwt, options, className);
    const unchecked = [settings.verify.issuer === undefined ? 'issuer' : '', settings.verify.audience === undefined ? 'audience' : ''].filter(
      (claim) => claim !== '',
    );
    // A token the same key signed for another service (or by another issuer sharing a key set) would pass.
    if (unchecked.length > 0) {
      warn?.(
        `jwtAuthenticator() of ${className} does not check the token's ${unchecked.join(' or ')}: any token its key signed is accepted, ` +
          `whichever service it was issued for; set authentication.jwt.${unchecked.join(' and authentication.jwt.')}`,
      );
    }
    return verifier(settings);
  };
  return authenticator;
}

/** jose, loaded on the first token to verify: apps without JWT authentication never pay for it. */
let jose: Promise<typeof import('jose')> | undefined;
const loadJose = () => (jose ??= import('jose'));

interface JwtSettings {
  /** The shared secret, or the URL of the key set. */
  readonly key: Uint8Array | URL;
  readonly jwksUrl: string | undefined;
  readonly verify: JWTVerifyOptions;
  readonly rolesClaim: string;
  readonly userClaim: string;
}

function settingsOf(config: ResolvedJwtConfig | undefined, options: JwtAuthenticatorOptions, className: string): JwtSettings {
  const secret = options.secret ?? (options.jwksUrl === undefined ? config?.secret : undefined);
  const jwksUrl = options.jwksUrl ?? (options.secret === undefined ? config?.jwksUrl : undefined);
  if (secret === undefined && jwksUrl === undefined) throw new OperonJwtNotConfiguredError(className, 'has no secret and no key set');
  if (secret !== undefined && jwksUrl !== undefined) throw new OperonJwtNotConfiguredError(className, 'has both a secret and a key set');
  const maxTokenAge = options.maxTokenAgeSeconds ?? config?.maxTokenAgeSeconds;
  const verify: JWTVerifyOptions = {
    issuer: options.issuer ?? config?.issuer,
    audience: options.audience ?? config?.audience,
    algorithms: secret !== undefined ? SECRET_ALGORITHMS : KEY_SET_ALGORITHMS,
    // A token without `exp` would be valid forever: refused unless the app says otherwise.
    requiredClaims: (options.requireExp ?? config?.requireExp ?? true) ? ['exp'] : [],
    clockTolerance: options.clockToleranceSeconds ?? config?.clockToleranceSeconds ?? 0,
    ...(maxTokenAge === undefined ? {} : { maxTokenAge }),
  };
  const common = { verify, rolesClaim: options.rolesClaim ?? config?.rolesClaim ?? 'roles', userClaim: options.userClaim ?? config?.userClaim ?? 'sub' };
  if (secret !== undefined) {
    const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
    if (key.byteLength < MIN_SECRET_BYTES) throw new OperonJwtNotConfiguredError(className, `has a secret of ${key.byteLength} bytes, fewer than ${MIN_SECRET_BYTES}`);
    return { key, jwksUrl: undefined, ...common };
  }
  let url: URL;
  try {
    url = new URL(jwksUrl!);
  } catch {
    throw new OperonJwtNotConfiguredError(className, `has a jwksUrl that is not a URL (${jwksUrl})`);
  }
  return { key: url, jwksUrl, ...common };
}

function verifier(settings: JwtSettings): Authenticator {
  // One key set per verifier: jose caches the fetched keys in it.
  let keySet: ReturnType<(typeof import('jose'))['createRemoteJWKSet']> | undefined;
  return async ({ request, logger }) => {
    const token = bearerToken(request.headers);
    let payload: JWTPayload;
    try {
      const { createRemoteJWKSet, jwtVerify } = await loadJose();
      const key = settings.key;
      const verified =
        key instanceof URL
          ? await jwtVerify(token, (keySet ??= createRemoteJWKSet(key, { timeoutDuration: JWKS_TIMEOUT_MS })), settings.verify)
          : await jwtVerify(token, key, settings.verify);
      payload = verified.payload;
    } catch (error) {
      throw rejection(error, settings, logger);
    }
    return identityOf(payload, settings);
  };
}

/** Why a token was refused, in words a client can act on; a key set that cannot be fetched is the server's problem (503). */
function rejection(error: unknown, settings: JwtSettings, logger: { warn(obj: unknown, msg?: string): void }): Error {
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return bearerChallenge('the bearer token has expired', 'invalid_token');
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return bearerChallenge('the bearer token has an invalid signature', 'invalid_token');
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return bearerChallenge('the bearer token is not a well-formed JWT', 'invalid_token');
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return bearerChallenge('the bearer token is signed with an algorithm this server does not accept', 'invalid_token');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const { claim, reason } = error as { claim?: unknown; reason?: unknown };
      if (reason === 'missing' && claim === 'exp') return bearerChallenge('the bearer token has no "exp" claim: tokens must expire', 'invalid_token');
      if (reason === 'missing' && claim === 'iat') {
        return bearerChallenge('the bearer token has no "iat" claim, so its age cannot be checked', 'invalid_token');
      }
      return bearerChallenge(`the bearer token's "${String(claim)}" claim is not accepted`, 'invalid_token');
    }
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return bearerChallenge('the bearer token is signed with a key this server does not know', 'invalid_token');
  }
  if (settings.jwksUrl !== undefined) {
    logger.warn({ err: error, jwksUrl: settings.jwksUrl }, `cannot fetch the JSON Web Key Set at ${settings.jwksUrl}; answering 503`);
    return new OperonResponseError('cannot verify the bearer token now: the key set is unavailable; try again later', 503);
  }
  return bearerChallenge('the bearer token is not valid', 'invalid_token');
}

/** A claim by exact name (claims may contain dots, as URL-named ones do), else by dotted path. */
function claimOf(payload: JWTPayload, claim: string): unknown {
  if (Object.hasOwn(payload, claim)) return payload[claim];
  let node: unknown = payload;
  for (const part of claim.split('.')) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function identityOf(payload: JWTPayload, settings: JwtSettings): AuthenticationResult {
  const user = claimOf(payload, settings.userClaim);
  if (typeof user !== 'string' || user === '') {
    throw bearerChallenge(`the bearer token has no "${settings.userClaim}" claim naming the user`, 'invalid_token');
  }
  const roles = claimOf(payload, settings.rolesClaim);
  if (roles === undefined) return { authenticatedUser: user, authenticatedRoles: [] };
  // OAuth scopes are one space-separated string (RFC 8693 §4.2); other issuers send a list.
  if (typeof roles === 'string') return { authenticatedUser: user, authenticatedRoles: roles.split(' ').filter((r) => r !== '') };
  if (Array.isArray(roles) && roles.every((r) => typeof r === 'string')) return { authenticatedUser: user, authenticatedRoles: roles };
  throw bearerChallenge(`the bearer token's "${settings.rolesClaim}" claim must be a list of strings`, 'invalid_token');
}

/** True for what `jwtAuthenticator()` returns, from any copy of the runtime. */
export function isConfigurable(authenticator: Authenticator): authenticator is ConfigurableAuthenticator {
  return typeof (authenticator as Partial<ConfigurableAuthenticator>)[BIND_TO_CONFIG] === 'function';
}
