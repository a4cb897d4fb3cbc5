// Pure decisions of the release pipeline: no I/O, so the workflow and the tests share them.
import type { ReleaseIndexEntry } from '../schemas/manifest.js';
import { compareSemver } from './semver.js';

/** The last `count` releases older than `newVersion`, newest first: the bases to delta from. */
export function chooseDeltaBases(published: ReleaseIndexEntry[], newVersion: string, count: number): ReleaseIndexEntry[] {
  return published
    .filter((entry) => compareSemver(entry.version, newVersion) < 0)
    .sort((a, b) => compareSemver(b.version, a.version))
    .slice(0, Math.max(0, count));
}

export type SecurityVersionCheck = { ok: true } | { ok: false; reason: string };

/** Anti-rollback: a new release may never lower the security version of what is already out. */
export function checkSecurityVersion(published: ReleaseIndexEntry[], newSecurityVersion: number): SecurityVersionCheck {
  const highest = published.reduce<ReleaseIndexEntry | undefined>(
    (best, entry) => (!best || entry.securityVersion > best.securityVersion ? entry : best),
    undefined,
  );
  if (highest && newSecurityVersion < highest.securityVersion) {
    return {
      ok: false,
      reason: `security version ${newSecurityVersion} is below ${highest.securityVersion} of release ${highest.version}; devices would refuse it`,
    };
  }
  return { ok: true };
}

/** Security version to use when the caller gives none: the highest published one (never lower). */
export function defaultSecurityVersion(published: ReleaseIndexEntry[]): number {
  return published.reduce((max, entry) => Math.max(max, entry.securityVersion), 0);
}

export type ExistingReleaseDecision =
  | { action: 'publish' }
  | { action: 'return-existing' }
  | { action: 'refuse'; reason: string };

/** Publishing a version twice: same image is idempotent, another image is refused. */
export function decideOnExistingRelease(
  existing: { imageSha256: string } | undefined,
  version: string,
  newImageSha256: string,
): ExistingReleaseDecision {
  if (!existing) return { action: 'publish' };
  if (existing.imageSha256 === newImageSha256) return { action: 'return-existing' };
  return {
    action: 'refuse',
    reason: `version ${version} is already published with image sha256 ${existing.imageSha256}; this image is ${newImageSha256}. Publish it under a new version.`,
  };
}
