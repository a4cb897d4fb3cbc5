// The enrollment guard: POST /v1/enroll needs `authorization: Bearer <token>` matching the token the
// operator configured (OTA_ENROLLMENT_TOKEN or --enrollment-token-file). No token configured means
// enrollment is closed. Compared in constant time over digests, so length and content do not leak.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpError } from './http.js';

export function checkEnrollmentToken(req: IncomingMessage, expected: string | undefined): void {
  if (!expected) throw new HttpError(403, 'enrollment-closed', 'this gateway has no enrollment token configured (set OTA_ENROLLMENT_TOKEN or --enrollment-token-file)');
  const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!match) throw new HttpError(401, 'enrollment-token-required', 'send the enrollment token as "authorization: Bearer <token>"', { 'www-authenticate': 'Bearer' });
  const digest = (s: string) => createHash('sha256').update(s).digest();
  if (!timingSafeEqual(digest(match[1]!), digest(expected))) {
    throw new HttpError(401, 'enrollment-token-invalid', 'the enrollment token is not valid', { 'www-authenticate': 'Bearer' });
  }
}
