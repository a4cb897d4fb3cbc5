// The enrollment token a device may present (`authorization: Bearer <token>`): a per-device,
// single-use token from `ota fleet token` (looked up by its SHA-256 in the fleet store), or, only
// on a gateway started with --insecure-shared-token, the lab's fleet-wide token, compared in
// constant time over digests so length and content do not leak.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpError } from './http.js';

const MAX_TOKEN_CHARS = 256;

/** The bearer token of the request, or undefined when it sends none. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S{1,256})$/i.exec(header.length <= MAX_TOKEN_CHARS + 16 ? header : '');
  if (!match) throw new HttpError(401, 'enrollment-token-malformed', 'send the enrollment token as "authorization: Bearer <token>" (at most 256 characters)', { 'www-authenticate': 'Bearer' });
  return match[1]!;
}

export function isSharedToken(presented: string, shared: string | undefined): boolean {
  if (!shared) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(presented), digest(shared));
}
