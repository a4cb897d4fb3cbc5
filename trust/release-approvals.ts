// Two-person releases (issue 13 item 3): a channel can require a threshold of release signers per
// release. The threshold per channel is signed into targets (by the targets key); each further signer
// approves a release with a signature of its own over the manifest bytes, kept in the target's entry, so
// neither the targets key nor the online key can make up an approval. The release's publisher counts once
// (its Sigstore bundle); every approval by another current release signer counts once more.
import { createHash, sign, verify } from 'node:crypto';
import { Key, type Metadata, type Targets } from '@tufjs/models';
import type { LocalTrustRootJSON } from '../signing/trust-root.js';
import { TufInvalidChangeError, TufTargetMismatchError, TufThresholdNotMetError } from './errors.js';
import { identifyKeylessSigner, keylessIdentityOf, keylessSignatureBy } from './keyless-signers.js';
import { signedJSON } from './metadata.js';
import { assertReleaseSigner, releaseSigners, signerCovers } from './release-signers.js';
import { releaseView } from './publish-role.js';
import { nextTargets, updateEntry, type OnlineSigning, type TufRepository } from './repository.js';
import { publicKeyOf, type TufSigningKey } from './tuf-keys.js';

/** Channel -> signatures a release on it needs (absent: 1). */
const THRESHOLDS_FIELD = 'x-edge-ota-release-thresholds';

export function releaseThreshold(targets: Metadata<Targets>, channel: string): number {
  const thresholds = targets.signed.unrecognizedFields[THRESHOLDS_FIELD] as Record<string, number> | undefined;
  return thresholds?.[channel] ?? 1;
}

/** A new targets version in which `channel` needs `threshold` release signers per release. */
export function requireSignatures(repo: TufRepository, channel: string, threshold: number, signing: OnlineSigning): TufRepository {
  const signers = releaseSigners(repo.targets).length;
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > signers) {
    throw new TufInvalidChangeError(`threshold ${threshold} for channel ${channel} needs between 1 and ${signers} (the number of release signers)`);
  }
  const json = signedJSON(repo.targets);
  json[THRESHOLDS_FIELD] = { ...(json[THRESHOLDS_FIELD] as object | undefined), [channel]: threshold };
  return nextTargets(repo, json, signing);
}

/** The approver's signature over the manifest bytes, added to the target's entry in a new targets version. */
export function approveRelease(repo: TufRepository, path: string, manifestBytes: Uint8Array, approver: TufSigningKey, signing: OnlineSigning): TufRepository {
  return addApprovalSignature(repo, path, manifestBytes, approver.keyID, sign('sha256', manifestBytes, approver.privateKey).toString('hex'), signing);
}

/** The same with a signature made elsewhere (the operator API: the approver's key stays with the approver); it must verify. */
export function addApprovalSignature(repo: TufRepository, path: string, manifestBytes: Uint8Array, keyID: string, signatureHex: string, signing: OnlineSigning): TufRepository {
  const entry = targetEntry(releaseView(repo.targets, repo.published), path, manifestBytes);
  assertReleaseSigner(repo.targets, keyID, path);
  if (entry.custom.signer === keyID) throw new TufInvalidChangeError(`key ${keyID} published ${path}: the approval must come from another release signer`);
  const key = new Map(releaseSigners(repo.targets)).get(keyID)!;
  if (keylessIdentityOf(key)) throw new TufInvalidChangeError(`${keyID} is a keyless release signer: it approves with a Sigstore bundle (\`ota release approve --keyless\`)`);
  if (!verify('sha256', manifestBytes, publicKeyOf(Key.fromJSON(keyID, key as never)), Buffer.from(signatureHex, 'hex'))) {
    throw new TufInvalidChangeError(`the approval signature of key ${keyID} does not verify over ${path}`);
  }
  return updateEntry(repo, path, (custom) => {
    custom.approvals = { ...(custom.approvals as object | undefined), [keyID]: signatureHex };
  }, signing);
}

/**
 * How keyless approvals are judged: verified offline against this Sigstore trust root (Fulcio chain,
 * trusted timestamp, the bytes), by devices, `ota verify` and the gateway deciding whether to offer.
 * Absent: not counted.
 */
export type KeylessApprovalCheck = LocalTrustRootJSON;

/**
 * A keyless release signer's approval: its Sigstore bundle over the manifest bytes (made by the approver's
 * CI or OIDC login through Fulcio), which must verify against the pinned Sigstore trust root and match a
 * listed keyless signer covering the release; added to the target's entry in a new targets version.
 * Neither the publisher's entry nor the publisher's own certificate identity can approve.
 */
export function addKeylessApproval(repo: TufRepository, path: string, manifestBytes: Uint8Array, bundle: unknown, sigstoreRoot: LocalTrustRootJSON, signing: OnlineSigning): TufRepository {
  const entry = targetEntry(releaseView(repo.targets, repo.published), path, manifestBytes);
  const approver = identifyKeylessSigner(repo.targets, bundle, manifestBytes, sigstoreRoot, path);
  if (approver.keyID === entry.custom.signer || approver.identity === entry.custom.signerIdentity) {
    throw new TufInvalidChangeError(`${approver.identity} (keyless signer ${approver.keyID}) published ${path}: the approval must come from another release signer`);
  }
  return updateEntry(repo, path, (custom) => {
    custom.keylessApprovals = { ...(custom.keylessApprovals as object | undefined), [approver.keyID]: typeof bundle === 'string' ? JSON.parse(bundle) : bundle };
  }, signing);
}

/**
 * Distinct current release signers behind a release: its publisher and each valid approval by a signer
 * whose hardware ids cover it. Keyless approvals count only with the Sigstore trust root to verify them
 * (`sigstoreRoot`), and never when their certificate identity is the publisher's.
 */
export function releaseSignatures(targets: Metadata<Targets>, path: string, manifestBytes: Uint8Array, sigstoreRoot?: KeylessApprovalCheck): string[] {
  const entry = targetEntry(targets, path, manifestBytes);
  const keys = new Map(releaseSigners(targets));
  const json = signedJSON(targets);
  const eligible = (id: string) => keys.has(id) && id !== entry.custom.signer && signerCovers(json, id, path);
  const approvals = (entry.custom.approvals ?? {}) as Record<string, string>;
  const approved = Object.entries(approvals).filter(([id, sig]) => {
    if (!eligible(id) || keylessIdentityOf(keys.get(id)!)) return false;
    return verify('sha256', manifestBytes, publicKeyOf(Key.fromJSON(id, keys.get(id) as never)), Buffer.from(sig, 'hex'));
  });
  const keylessApprovals = (entry.custom.keylessApprovals ?? {}) as Record<string, unknown>;
  const keylessApproved = sigstoreRoot
    ? Object.entries(keylessApprovals).filter(([id, bundle]) => {
        if (!eligible(id) || !keylessIdentityOf(keys.get(id)!)) return false;
        const cert = keylessSignatureBy(keys.get(id)!, bundle, manifestBytes, sigstoreRoot);
        return cert !== undefined && cert.identity !== entry.custom.signerIdentity;
      })
    : [];
  return [entry.custom.signer as string, ...approved.map(([id]) => id), ...keylessApproved.map(([id]) => id)];
}

/** TUF_THRESHOLD_NOT_MET when the channel needs more signers than the release has. */
export function assertReleaseApproved(targets: Metadata<Targets>, path: string, manifestBytes: Uint8Array, channel: string, sigstoreRoot?: KeylessApprovalCheck): void {
  const needed = releaseThreshold(targets, channel);
  const have = releaseSignatures(targets, path, manifestBytes, sigstoreRoot).length;
  if (have < needed) throw new TufThresholdNotMetError(`${path} has ${have} of the ${needed} release signatures channel ${channel} requires: approve it with \`ota release approve\``);
}

function targetEntry(targets: Metadata<Targets>, path: string, manifestBytes: Uint8Array) {
  const entry = targets.signed.targets[path];
  if (!entry) throw new TufTargetMismatchError(`${path} is not a target of targets version ${targets.signed.version}`);
  if (entry.hashes.sha256 !== createHash('sha256').update(manifestBytes).digest('hex')) throw new TufTargetMismatchError(`${path}: the manifest is not the one its target lists`);
  return entry;
}
