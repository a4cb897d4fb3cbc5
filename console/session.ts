// The console's session: the token an operator pasted (an API token or an OIDC JWT) in an HttpOnly,
// SameSite=Strict cookie, verified on every request exactly as a bearer token is. Forms that
// change state carry a CSRF token bound to that session: an HMAC of the session token under a key
// this process drew at start, so it cannot be guessed from outside and dies with the session.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'ota_console';
/** Larger cookies are not read (bearer tokens are capped at 8192 by the authenticator too). */
const MAX_COOKIE_HEADER = 16 * 1024;

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header || header.length > MAX_COOKIE_HEADER) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

export function sessionCookie(token: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${encodeURIComponent(token)}; Path=/console; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`;
}

export class CsrfTokens {
  private readonly key = randomBytes(32);

  issue(sessionToken: string): string {
    return createHmac('sha256', this.key).update(sessionToken).digest('base64url');
  }

  valid(sessionToken: string, presented: unknown): boolean {
    if (typeof presented !== 'string' || presented.length > 100) return false;
    const expected = Buffer.from(this.issue(sessionToken));
    const given = Buffer.from(presented);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
