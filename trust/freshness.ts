// Freshness (TUF spec 5.4-5.6, Uptane's freeze attack): metadata expires, and "now" is never earlier
// than the newest signed time this verifier has already seen, so setting the clock back cannot revive
// expired metadata. The newest time only moves forward.
import { TufMetadataExpiredError } from './errors.js';

/** The time expiry is judged at: the clock, or the newest signed time seen when the clock is behind it. */
export function referenceTime(now: Date, newestSeen?: string): Date {
  const seen = newestSeen ? new Date(newestSeen) : undefined;
  return seen && seen.getTime() > now.getTime() ? seen : now;
}

/** Refuses metadata whose expiry is at or before the reference time; says when the clock was behind. */
export function assertFresh(role: string, version: number, expires: string, now: Date, newestSeen?: string): void {
  const at = referenceTime(now, newestSeen);
  if (at.getTime() < new Date(expires).getTime()) return;
  const behind = at !== now ? ` (the clock says ${now.toISOString()}, but signed metadata from ${newestSeen} was already seen)` : '';
  throw new TufMetadataExpiredError(`${role} version ${version} expired at ${expires}${behind}`);
}

/** The newer of two signed times (either may be missing). */
export function newerTime(a: string | undefined, b: string | undefined): string | undefined {
  if (!a) return b;
  if (!b) return a;
  return new Date(b).getTime() > new Date(a).getTime() ? b : a;
}
