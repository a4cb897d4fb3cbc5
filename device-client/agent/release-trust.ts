// The TUF client workflow on the device, before a manifest is read (docs/trust.md, "Devices"): from the
// root it trusts, the root chain as far as the source has roots, then timestamp, snapshot and targets
// (trust/metadata-store.ts), then the manifest's length and sha256 against its target entry and its
// signer against the release signers. The manifest's Sigstore bundle is then checked against that
// signer's key alone. Nothing is written here: the caller keeps the new trust state only once the
// whole release verified, so any refusal leaves the device's trust state as it was.
import type { Metadata, Targets } from '@tufjs/models';
import { join } from 'node:path';
import { readAtMost } from '../../platform/bounded-read.js';
import { manifestKey } from '../../release/layout.js';
import type { LocalTrustRootJSON } from '../../signing/trust-root.js';
import type { SignerPolicy } from '../../signing/verify.js';
import { TufMetaMismatchError, TufNotInitializedError } from '../../trust/errors.js';
import { TUF_PREFIX, verifyStoredRepository, type MetadataReader, type VerifiedRepository } from '../../trust/metadata-store.js';
import { cachingMetadataReader } from './metadata-cache.js';
import { METADATA_LIMITS, parseMetadata } from '../../trust/parse.js';
import { releaseSigners } from '../../trust/release-signers.js';
import { releaseSignerPolicy } from '../../trust/keyless-signers.js';
import { verifyReleaseTarget } from '../../trust/verify-roles.js';
import type { DeviceConfig } from '../config.js';
import { readDeviceTrust, type DeviceTrust } from './device-trust.js';
import type { CandidateRelease } from './update-source.js';

export interface TrustedRelease {
  /** The trust root and policy the manifest bundle is verified with: the target's signer only. */
  trustRoot: LocalTrustRootJSON;
  policy: SignerPolicy;
  /** The trust state to keep once the release verified. */
  trust: Required<DeviceTrust>;
  /** The verified targets and the release's target path (two-person releases are checked against them). */
  targets: Metadata<Targets>;
  path: string;
  detail: string;
}

/**
 * Undefined when the device pins no TUF root (provisioned before TUF: verified as before, and
 * `ota-device status` says so). A device that pins one refuses a source without metadata.
 */
export async function verifyReleaseMetadata(
  candidate: CandidateRelease,
  config: Pick<DeviceConfig, 'trust' | 'stateDir' | 'hardwareId'>,
  trustRoot: LocalTrustRootJSON,
  now: Date,
): Promise<TrustedRelease | undefined> {
  const trust = await readDeviceTrust(config);
  if (!trust) return undefined;
  const reader = candidate.tuf;
  if (!reader) throw new TufNotInitializedError(`the device pins TUF root version ${trust.root.signed.version}, but ${candidate.origin} comes without TUF metadata`);
  const { verified, next } = await walkMetadata(reader, trust, now, metadataCacheDir(config));
  const path = manifestKey(config.hardwareId, candidate.version);
  const target = verifyReleaseTarget(verified.targets, candidate.manifestBytes, path);
  const [, keyJSON] = releaseSigners(verified.targets).find(([id]) => id === target.signerKeyID)!;
  // A key signer: its key alone; a keyless signer (TAP 18): its issuer and identity pattern.
  const { trustRoot: root, policy } = releaseSignerPolicy(target.signerKeyID, keyJSON, trustRoot);
  const s = verified.seen;
  return {
    trustRoot: root,
    policy,
    trust: next,
    targets: verified.targets,
    path,
    detail: `TUF root v${verified.root.signed.version}, timestamp v${s.timestamp}, snapshot v${s.snapshot}, targets v${s.targets}; signed by ${target.signerKeyID.slice(0, 16)}`,
  };
}

/** The metadata walk from what the device trusts, and the trust state it leads to (not written here). */
export async function walkMetadata(source: MetadataReader, trust: DeviceTrust, now: Date, cacheDir?: string): Promise<{ verified: VerifiedRepository; next: Required<DeviceTrust> }> {
  const reader = cacheDir ? cachingMetadataReader(source, cacheDir) : undefined;
  const verified = await verifyStoredRepository(reader ?? source, trust.root, trust.seen, now);
  await reader?.commit();
  // The walk verified this timestamp; read again only for its expiry, and it must be the same version.
  const timestamp = parseMetadata('timestamp', await readAtMost(await source.getStream(`${TUF_PREFIX}timestamp.json`), METADATA_LIMITS.timestamp, 'timestamp.json'));
  if (timestamp.signed.version !== verified.seen.timestamp) throw new TufMetaMismatchError(`${source.location}: timestamp.json changed during the walk`);
  return { verified, next: { root: verified.root, seen: verified.seen, timestampExpires: timestamp.signed.expires } };
}

/** Where a device keeps the versioned metadata of its last verified walk (device-client/agent/metadata-cache.ts). */
export function metadataCacheDir(config: Pick<DeviceConfig, 'stateDir'>): string {
  return join(config.stateDir, 'tuf-cache');
}
