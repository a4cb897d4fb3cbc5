// Offline verification of a candidate release before anything is written: the TUF metadata when the
// device pins a TUF root (release-trust.ts), the manifest's signature against the pinned trust root
// (nothing in an unverified manifest is read), then expiry, hardware, channel, anti-rollback against
// the stored security version, and version order. The TUF trust state is kept only when all of it passed.
import { createHash } from 'node:crypto';
import { access } from 'node:fs/promises';
import type { Manifest, ManifestDelta } from '../../schemas/manifest.js';
import { onDemandDeltasFor } from '../../release/on-demand-delta.js';
import { readTrustRoot } from '../../signing/trust-root.js';
import { checkManifestFor, type InstalledState } from '../../verification/manifest-checks.js';
import { policyFor, verifySignedManifest, type KeylessIdentity } from '../../verification/verify-manifest.js';
import type { DeviceConfig } from '../config.js';
import { assertReleaseApproved } from '../../trust/release-approvals.js';
import { writeDeviceTrust } from './device-trust.js';
import { verifyReleaseMetadata } from './release-trust.js';
import type { CandidateRelease } from './update-source.js';

export interface VerifiedRelease {
  manifest: Manifest;
  manifestSha256: string;
  /** What TUF verified, when the device pins a TUF root. */
  tuf?: string;
  /**
   * On-demand deltas the verified targets list for this release (release/on-demand-delta.ts): signed by
   * the targets role, hash and length checked while downloading; the image they rebuild is still checked
   * against the manifest's signed image digest. Empty without TUF (nothing could vouch for them).
   */
  onDemandDeltas: ManifestDelta[];
}

export async function verifyCandidate(
  candidate: CandidateRelease,
  config: Pick<DeviceConfig, 'trust' | 'stateDir' | 'hardwareId'>,
  installed: InstalledState,
  now = new Date(),
  /** A rollback ordered by the gateway may go to an older version, never below the security version. */
  allowVersionDowngrade = false,
): Promise<VerifiedRelease> {
  const trust: { trustedRootPath: string; keyless?: KeylessIdentity } = config.trust;
  // readTrustRoot treats a missing file as an empty root; on a device that is a setup error.
  await access(trust.trustedRootPath).catch(() => {
    throw new Error(`trust root ${trust.trustedRootPath} does not exist: the device needs its pinned trusted_root.json`);
  });
  const trustRoot = await readTrustRoot(trust.trustedRootPath);
  const tuf = await verifyReleaseMetadata(candidate, config, trustRoot, now);
  const { manifest } = await verifySignedManifest({
    manifestBytes: candidate.manifestBytes,
    bundle: candidate.bundle,
    trustRoot: tuf?.trustRoot ?? trustRoot,
    policy: tuf?.policy ?? policyFor(trustRoot, trust.keyless),
  });
  // A channel that requires two signers: the release needs its approvals too (offline as well).
  if (tuf) assertReleaseApproved(tuf.targets, tuf.path, candidate.manifestBytes, manifest.channel, tuf.trustRoot);
  checkManifestFor(manifest, { now, installed, allowVersionDowngrade });
  if (tuf) await writeDeviceTrust(config, tuf.trust, now);
  const onDemandDeltas = tuf ? onDemandDeltasFor(tuf.targets.signed.targets, manifest.hardwareId, manifest.version, manifest.image.sha256) : [];
  return { manifest, manifestSha256: createHash('sha256').update(candidate.manifestBytes).digest('hex'), ...(tuf && { tuf: tuf.detail }), onDemandDeltas };
}
