/**
 * Reads the token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1). Every way it can
 * be wrong is a 401 with its own message, and with the `WWW-Authenticate` challenge RFC 6750 §3
 * requires, so a client can tell "send a token" from "your token is bad".
 */
import { OperonNotAuthenticatedError } from '@operon/sdk';

/** RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** A 401 carrying the challenge to send in `WWW-Authenticate`. */
export function bearerChallenge(message: string, error?: 'invalid_request' | 'invalid_token'): OperonNotAuthenticatedError {
  const rejection = new OperonNotAuthenticatedError(message);
  // Quoted-string per RFC 7235 §2.1: no quotes or backslashes inside.
  const description = message.replace(/["\\]/g, "'");
  const challenge = error === undefined ? 'Bearer' : `Bearer error="${error}", error_description="${description}"`;
  Object.defineProperty(rejection, 'wwwAuthenticate', { value: challenge, enumerable: false });
  return rejection;
}

/** The challenge a 401 carries, if it has one. */
export function wwwAuthenticateOf(error: unknown): string | undefined {
  const challenge = (error as { wwwAuthenticate?: unknown } | null)?.wwwAuthenticate;
  return typeof challenge === 'string' ? challenge : undefined;
}

export function bearerToken(headers: Readonly<Record<string, string | string[] | undefined>>): string {
  const header = headers['authorization'];
  if (header === undefined || header === '') {
    throw bearerChallenge('missing Authorization header: send "Authorization: Bearer <token>"');
  }
  if (Array.isArray(header)) {
    throw bearerChallenge('malformed Authorization header: it was sent more than once', 'invalid_request');
  }
  const match = /^(\S+)[ ]+(\S+)\s*$/.exec(header);
  // The scheme is case-insensitive (RFC 7235 §2.1).
  if (!match || match[1]!.toLowerCase() !== 'bearer') {
    throw bearerChallenge('malformed Authorization header: expected "Bearer <token>"', 'invalid_request');
  }
  const token = match[2]!;
  if (!B64TOKEN.test(token)) {
    throw bearerChallenge('malformed Authorization header: the bearer token has characters a token cannot have', 'invalid_request');
  }
  return token;
}
