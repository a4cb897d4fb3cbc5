// A fleet's TUF repository (spec sections 2 and 4): root (offline keys, threshold M of N), targets
// (the release manifests as targets, and the release signers), snapshot and timestamp (one online key,
// short expiry). Pure: every change returns a new repository value; storage is metadata-store.ts.
import { MetadataKind, type Metadata, type Root, type Snapshot, type Targets, type Timestamp } from '@tufjs/models';
import { TufInvalidChangeError, TufUnknownSignerError } from './errors.js';
import { expiresAfter, metaFileFor, signedJSON, tufTime, unsigned, type SignedJSON } from './metadata.js';
import { assertReleaseSigner, revokedSigners, REVOKED_FIELD, signersDelegation, signersOf, type SignerScope } from './release-signers.js';
import { signMetadata, type TufPublicKey, type TufSigningKey } from './tuf-keys.js';

export interface TufRepository {
  /** Every root version in order: roots[i] is version i + 1 (devices walk the chain from their pinned version). */
  roots: Array<Metadata<Root>>;
  targets: Metadata<Targets>;
  snapshot: Metadata<Snapshot>;
  timestamp: Metadata<Timestamp>;
  /**
   * Versions already taken in the store by a change that lost its race (metadata-store.ts): the next
   * targets or snapshot version goes past them. Versions only have to increase, not be contiguous.
   */
  taken?: { targets: number; snapshot: number };
}

/** Hours until each role's metadata expires. Snapshot and timestamp are short: a frozen device notices. */
export interface TufExpiries {
  root: number;
  targets: number;
  snapshot: number;
  timestamp: number;
}

export const DEFAULT_EXPIRIES: TufExpiries = { root: 365 * 24, targets: 90 * 24, snapshot: 7 * 24, timestamp: 24 };

/** The signed time the timestamp carries: a verifier keeps the newest one it saw (freshness.ts). */
export const ISSUED_FIELD = 'x-edge-ota-issued';

export interface OnlineSigning {
  targetsKeys: TufSigningKey[];
  onlineKey: TufSigningKey;
  now: Date;
  expiries?: TufExpiries;
}

export interface CreateRepositoryInput extends OnlineSigning {
  rootKeys: TufSigningKey[];
  threshold: number;
  signers: TufPublicKey[];
}

export function latestRoot(repo: Pick<TufRepository, 'roots'>): Metadata<Root> {
  return repo.roots[repo.roots.length - 1]!;
}

export function createRepository(input: CreateRepositoryInput): TufRepository {
  const expiries = input.expiries ?? DEFAULT_EXPIRIES;
  checkThreshold(input.threshold, input.rootKeys.length);
  if (input.signers.length === 0) throw new TufInvalidChangeError('a repository needs at least one release signer');
  const root = unsigned(MetadataKind.Root, {
    version: 1,
    expires: expiresAfter(input.now, expiries.root),
    spec_version: '1.0.31',
    consistent_snapshot: true,
    keys: {},
    roles: Object.fromEntries(['root', 'targets', 'snapshot', 'timestamp'].map((r) => [r, { keyids: [], threshold: 1 }])),
  });
  for (const key of input.rootKeys) root.signed.addKey(key.key, 'root');
  for (const key of input.targetsKeys) root.signed.addKey(key.key, 'targets');
  root.signed.addKey(input.onlineKey.key, 'snapshot');
  root.signed.addKey(input.onlineKey.key, 'timestamp');
  const rootJSON = signedJSON(root);
  (rootJSON.roles as Record<string, { threshold: number }>).root!.threshold = input.threshold;
  const signedRoot = signMetadata(unsigned(MetadataKind.Root, rootJSON), input.rootKeys);
  const targets = unsigned(MetadataKind.Targets, {
    version: 1,
    expires: expiresAfter(input.now, expiries.targets),
    spec_version: '1.0.31',
    targets: {},
    delegations: signersDelegation(input.signers.map((s) => ({ keyID: s.keyID, key: s.key.toJSON(), scope: 'all' as const }))),
  });
  return withTargets({ roots: [signedRoot] }, signedJSON(targets), input, 1);
}

/**
 * A new targets version listing one more release signer, for every hardware id or only the ones in
 * `scope` (release-signers.ts); snapshot and timestamp follow.
 */
export function addSigner(repo: TufRepository, signer: Pick<TufPublicKey, 'keyID' | 'key'>, signing: OnlineSigning, scope: SignerScope = 'all'): TufRepository {
  const json = signedJSON(repo.targets);
  const signers = signersOf(json);
  if (signers.some((s) => s.keyID === signer.keyID)) throw new TufInvalidChangeError(`key ${signer.keyID} already signs releases (to change its hardware ids, revoke it and add it again)`);
  const revoked = { ...revokedSigners(json) };
  delete revoked[signer.keyID];
  json.delegations = signersDelegation([...signers, { keyID: signer.keyID, key: signer.key.toJSON(), scope }]);
  json[REVOKED_FIELD] = revoked;
  return nextTargets(repo, json, signing);
}

/** A new targets version without the signer, remembered as revoked; at least one signer stays. */
export function revokeSigner(repo: TufRepository, keyID: string, signing: OnlineSigning): TufRepository {
  const json = signedJSON(repo.targets);
  const signers = signersOf(json);
  if (!signers.some((s) => s.keyID === keyID)) throw new TufUnknownSignerError(`key ${keyID} is not a release signer`);
  if (signers.length === 1) throw new TufInvalidChangeError(`key ${keyID} is the last release signer: add another before revoking it`);
  json.delegations = signersDelegation(signers.filter((s) => s.keyID !== keyID));
  json[REVOKED_FIELD] = { ...revokedSigners(json), [keyID]: tufTime(signing.now) };
  return nextTargets(repo, json, signing);
}

export interface ReleaseTarget {
  path: string;
  length: number;
  sha256: string;
  /** TUF key id of the key (or keyless identity entry) that signed the manifest's bundle. */
  signerKeyID: string;
  /** Keyless: the certificate identity that signed (an approval by the same identity does not count again). */
  signerIdentity?: string;
}

/** Adds (or replaces) a target, refused unless its signer is a current release signer for its path. */
export function addTarget(repo: TufRepository, target: ReleaseTarget, signing: OnlineSigning): TufRepository {
  assertReleaseSigner(repo.targets, target.signerKeyID, target.path);
  const json = signedJSON(repo.targets);
  json.targets = {
    ...(json.targets as object),
    [target.path]: { length: target.length, hashes: { sha256: target.sha256 }, custom: { signer: target.signerKeyID, ...(target.signerIdentity && { signerIdentity: target.signerIdentity }) } },
  };
  return nextTargets(repo, json, signing);
}

/** New snapshot and timestamp versions over the same targets (the freshness re-sign). */
export function refreshOnline(repo: TufRepository, signing: Omit<OnlineSigning, 'targetsKeys'>): TufRepository {
  const expiries = signing.expiries ?? DEFAULT_EXPIRIES;
  const snapshot = signMetadata(
    unsigned(MetadataKind.Snapshot, {
      version: Math.max(repo.snapshot?.signed.version ?? 0, repo.taken?.snapshot ?? 0) + 1,
      expires: expiresAfter(signing.now, expiries.snapshot),
      spec_version: '1.0.31',
      meta: { 'targets.json': metaFileFor(repo.targets).toJSON() },
    }),
    [signing.onlineKey],
  );
  const timestamp = signMetadata(
    unsigned(MetadataKind.Timestamp, {
      version: (repo.timestamp?.signed.version ?? 0) + 1,
      expires: expiresAfter(signing.now, expiries.timestamp),
      spec_version: '1.0.31',
      meta: { 'snapshot.json': metaFileFor(snapshot).toJSON() },
      [ISSUED_FIELD]: tufTime(signing.now),
    }),
    [signing.onlineKey],
  );
  return { ...repo, snapshot, timestamp };
}

export function checkThreshold(threshold: number, keyCount: number): void {
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > keyCount) {
    throw new TufInvalidChangeError(`threshold ${threshold} needs between 1 and ${keyCount} (the number of root keys) signatures`);
  }
}

/** Targets as `json` says, signed as the next version by the targets keys; snapshot and timestamp follow. */
export function nextTargets(repo: TufRepository, json: SignedJSON, signing: OnlineSigning): TufRepository {
  return withTargets(repo, json, signing, Math.max(repo.targets.signed.version, repo.taken?.targets ?? 0) + 1);
}

function withTargets(repo: Pick<TufRepository, 'roots'> & Partial<TufRepository>, json: SignedJSON, signing: OnlineSigning, version: number): TufRepository {
  const expiries = signing.expiries ?? DEFAULT_EXPIRIES;
  const targets = signMetadata(unsigned(MetadataKind.Targets, { ...json, version, expires: expiresAfter(signing.now, expiries.targets) }), signing.targetsKeys);
  return refreshOnline({ ...repo, targets } as TufRepository, signing);
}
