// Offline verification of a candidate release before anything is written: the manifest's
// signature against the pinned trust root (nothing in an unverified manifest is read), then
// expiry, hardware, channel, anti-rollback against the stored security version, and version order.
import { createHash } from 'node:crypto';
import { access } from 'node:fs/promises';
import type { Manifest } from '../../schemas/manifest.js';
import { readTrustRoot } from '../../signing/trust-root.js';
import { checkManifestFor, type InstalledState } from '../../verification/manifest-checks.js';
import { policyFor, verifySignedManifest, type KeylessIdentity } from '../../verification/verify-manifest.js';
import type { CandidateRelease } from './update-source.js';

export interface VerifiedRelease {
  manifest: Manifest;
  manifestSha256: string;
}

export async function verifyCandidate(
  candidate: CandidateRelease,
  trust: { trustedRootPath: string; keyless?: KeylessIdentity },
  installed: InstalledState,
  now = new Date(),
  /** A rollback ordered by the gateway may go to an older version, never below the security version. */
  allowVersionDowngrade = false,
): Promise<VerifiedRelease> {
  // readTrustRoot treats a missing file as an empty root; on a device that is a setup error.
  await access(trust.trustedRootPath).catch(() => {
    throw new Error(`trust root ${trust.trustedRootPath} does not exist: the device needs its pinned trusted_root.json`);
  });
  const trustRoot = await readTrustRoot(trust.trustedRootPath);
  const { manifest } = await verifySignedManifest({
    manifestBytes: candidate.manifestBytes,
    bundle: candidate.bundle,
    trustRoot,
    policy: policyFor(trustRoot, trust.keyless),
  });
  checkManifestFor(manifest, { now, installed, allowVersionDowngrade });
  return { manifest, manifestSha256: createHash('sha256').update(candidate.manifestBytes).digest('hex') };
}
