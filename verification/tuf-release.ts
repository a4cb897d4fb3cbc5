// `ota verify` through the fleet's TUF repository (docs/trust.md), before the manifest and artifact
// checks: the root chain from the root this machine pins, timestamp, snapshot, targets, then the
// manifest's length and sha256 against its target and its signer against the targets role. The
// manifest's Sigstore bundle is then checked against that signer's key alone, so a key that is still
// pinned in trusted_root.json but revoked (or never listed) by the targets role signs nothing.
import type { LocalTrustRootJSON } from '../signing/trust-root.js';
import type { SignerPolicy } from '../signing/verify.js';
import { TufNotInitializedError } from '../trust/errors.js';
import { readLocalTrust, writeLocalTrust } from '../trust/local-trust.js';
import { hasRepository, verifyStoredRepository, type MetadataStore } from '../trust/metadata-store.js';
import { releaseSigners } from '../trust/release-signers.js';
import { assertReleaseApproved } from '../trust/release-approvals.js';
import { releaseSignerPolicy } from '../trust/keyless-signers.js';
import { verifyReleaseTarget } from '../trust/verify-roles.js';

export interface TufVerifiedRelease {
  /** The trust root and policy the manifest bundle is verified with: the target's signer only. */
  trustRoot: LocalTrustRootJSON;
  policy: SignerPolicy;
  detail: string;
}

/**
 * Undefined when neither this machine pins a TUF root nor the store holds a repository (releases from
 * before TUF verify as they did). Either one without the other is refused: a repository that vanished
 * is a freeze, one nobody pinned is trust on first use.
 */
export async function verifyThroughTuf(input: {
  store: MetadataStore;
  localTrustDir: string;
  trustRoot: LocalTrustRootJSON;
  manifestBytes: Uint8Array;
  /** The manifest's path in the store, when known; otherwise the target is found by its sha256. */
  manifestPath?: string;
  now?: Date;
}): Promise<TufVerifiedRelease | undefined> {
  const local = await readLocalTrust(input.localTrustDir);
  const stored = await hasRepository(input.store);
  if (!local && !stored) return undefined;
  if (!local) throw new TufNotInitializedError(`${input.store.location} has a TUF repository but this machine pins no root: copy its 1.root.json (obtained out of band) to ${input.localTrustDir}/root.json`);
  if (!stored) throw new TufNotInitializedError(`this machine pins TUF root version ${local.root.signed.version} but ${input.store.location} has no TUF repository`);
  const verified = await verifyStoredRepository(input.store, local.root, local.seen, input.now ?? new Date());
  // What was verified is remembered: the newest root, the versions and the newest signed time.
  await writeLocalTrust(input.localTrustDir, { root: verified.root, seen: verified.seen });
  const target = verifyReleaseTarget(verified.targets, input.manifestBytes, input.manifestPath);
  // A channel that needs more than one release signature (two-person releases) is checked here too,
  // as the gateway and the device check it; the bytes are the target's, so their channel is signed.
  // Keyless approvals are verified against this machine's Sigstore root (Fulcio, Rekor, TSA).
  assertReleaseApproved(verified.targets, target.path, input.manifestBytes, channelOf(input.manifestBytes), input.trustRoot);
  const [, keyJSON] = releaseSigners(verified.targets).find(([id]) => id === target.signerKeyID)!;
  // A key signer: its key alone; a keyless signer (TAP 18): its issuer and identity pattern.
  const { trustRoot, policy } = releaseSignerPolicy(target.signerKeyID, keyJSON, input.trustRoot);
  const s = verified.seen;
  return {
    trustRoot,
    policy,
    detail: `root v${verified.root.signed.version}, timestamp v${s.timestamp}, snapshot v${s.snapshot}, targets v${s.targets}${s.published ? `, release-publish v${s.published}` : ''}; ${target.path} signed by ${target.signerKeyID.slice(0, 16)}`,
  };
}

/** The manifest's channel ('' when it names none: then only a threshold set for '' applies). */
function channelOf(manifestBytes: Uint8Array): string {
  try {
    const channel = (JSON.parse(Buffer.from(manifestBytes).toString('utf8')) as { channel?: unknown }).channel;
    return typeof channel === 'string' ? channel : '';
  } catch {
    return '';
  }
}
