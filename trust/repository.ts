// A fleet's TUF repository (spec sections 2 and 4): root (offline keys, threshold M of N), targets
// (the release manifests as targets, and the release signers), snapshot and timestamp (one online key,
// short expiry). Pure: every change returns a new repository value; storage is metadata-store.ts.
import { MetadataKind, type Metadata, type Root, type Snapshot, type Targets, type Timestamp } from '@tufjs/models';
import { TufInvalidChangeError, TufPublishingRevokedError, TufPublishKeyReplacedError, TufUnknownSignerError } from './errors.js';
import { expiresAfter, metaFileFor, signedJSON, tufTime, unsigned, type SignedJSON } from './metadata.js';
import { assertReleaseSigner, revokedSigners, REVOKED_FIELD, signersDelegation, signersOf, type SignerScope } from './release-signers.js';
import { signMetadata, type TufPublicKey, type TufSigningKey } from './tuf-keys.js';
import {
  delegatesPublishing,
  entryRole,
  keepPublishDelegation,
  PUBLISH_FILE,
  PUBLISH_ROLE,
  publishDelegationOf,
  publishKeyIDOf,
  PUBLISHING_REVOKED_FIELD,
  replacedPublishKeys,
  withPublishDelegation,
} from './publish-role.js';

export interface TufRepository {
  /** Every root version in order: roots[i] is version i + 1 (devices walk the chain from their pinned version). */
  roots: Array<Metadata<Root>>;
  targets: Metadata<Targets>;
  /** The publish role's metadata (trust/publish-role.ts) when top-level targets delegates it: the published manifests. */
  published?: Metadata<Targets>;
  snapshot: Metadata<Snapshot>;
  timestamp: Metadata<Timestamp>;
  /**
   * Versions already taken in the store by a change that lost its race (metadata-store.ts): the next
   * targets or snapshot version goes past them. Versions only have to increase, not be contiguous.
   */
  taken?: { targets: number; snapshot: number; published?: number };
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
  /** The targets keys; none when the change leaves top-level targets alone (a publish into the publish role). */
  targetsKeys: TufSigningKey[];
  onlineKey: TufSigningKey;
  /** The release-publish key (the worker's): signs the publish role's metadata. */
  publishKey?: TufSigningKey;
  now: Date;
  expiries?: TufExpiries;
}

export interface CreateRepositoryInput extends OnlineSigning {
  rootKeys: TufSigningKey[];
  threshold: number;
  signers: Array<Pick<TufPublicKey, 'keyID' | 'key'>>;
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
  const json = signedJSON(targets);
  // With a release-publish key, the worker lists releases in its own role and never needs the targets key.
  if (input.publishKey) json.delegations = withPublishDelegation(json.delegations as never, input.publishKey.keyID, input.publishKey.key.toJSON());
  const published = input.publishKey ? signedPublished(emptyPublishedJSON(input.now, expiries), 1, input) : undefined;
  return withTargets({ roots: [signedRoot], ...(published && { published }) }, json, input, 1);
}

/**
 * Top-level targets delegates the publish role to `publishKey` (a new targets version, signed by the
 * targets key: `ota trust delegate-publish`); the role starts empty, signed by signing.publishKey.
 * Manifests already listed in top-level targets stay there.
 */
export function delegatePublishing(repo: TufRepository, publishKey: Pick<TufPublicKey, 'keyID' | 'key'>, signing: OnlineSigning): TufRepository {
  assertNotReplaced(repo.targets, publishKey.keyID);
  const json = signedJSON(repo.targets);
  json.delegations = withPublishDelegation(json.delegations as never, publishKey.keyID, publishKey.key.toJSON());
  delete json[PUBLISHING_REVOKED_FIELD];
  // Without the release-publish key at hand (a targets change written offline), `ota trust push` starts the role.
  const published = publishRoleFor(repo, json, signing, { keyRequired: false });
  return nextTargets({ ...repo, ...(published && { published }) }, json, signing);
}

/** A release-publish key once replaced or revoked is refused as the role's key again (its thief may hold it). */
export function assertNotReplaced(targets: Metadata<Targets>, keyID: string): void {
  const replaced = replacedPublishKeys(signedJSON(targets))[keyID];
  if (replaced) throw new TufInvalidChangeError(`release-publish key ${keyID} was replaced at ${replaced.replaced}: a replaced key never signs the role again; make a new one`);
}

/**
 * The publish role that goes with top-level targets `next` (TUF: a delegated role is signed by the key its
 * delegation names). The same key as before: the role as it is. A new key (rotate-publish-key): the role's
 * entries re-signed by the new key as its next version, so releases published before stay listed. A
 * first delegation (or one after revoke-publish): an empty role past every version taken. No delegation:
 * the role as it is (after a revoke it stays pinned so its version never goes back, and counts for
 * nothing). Needs signing.publishKey to be the delegated key when it signs; without it (a change written
 * offline) the role is left for `ota trust push`, unless keyRequired.
 */
export function publishRoleFor(repo: TufRepository, next: SignedJSON, signing: Pick<OnlineSigning, 'publishKey' | 'now' | 'expiries'>, options: { keyRequired: boolean }): Metadata<Targets> | undefined {
  const after = publishDelegationOf(next)?.role.keyids[0];
  const before = publishKeyIDOf(repo.targets);
  if (!after) return repo.published;
  if (after === before && repo.published) return repo.published;
  if (!signing.publishKey && !options.keyRequired) return repo.published;
  if (signing.publishKey && signing.publishKey.keyID !== after) {
    throw new TufInvalidChangeError(`targets delegates ${PUBLISH_ROLE} to key ${after}, the release-publish key at hand is ${signing.publishKey.keyID}: pass the new key with --publish-key`);
  }
  const version = Math.max(repo.published?.signed.version ?? 0, repo.taken?.published ?? 0) + 1;
  const json = before && repo.published ? signedJSON(repo.published) : emptyPublishedJSON(signing.now, signing.expiries ?? DEFAULT_EXPIRIES);
  return signedPublished(json, version, signing);
}

/**
 * A targets version signed elsewhere (offline, `ota trust sign`), pushed: it must be the next version
 * (nothing changed targets since it was written), and the publish role it may delegate starts empty,
 * signed by the release-publish key; snapshot and timestamp follow. Its signatures are checked on write.
 */
export function acceptTargets(repo: TufRepository, targets: Metadata<Targets>, signing: Omit<OnlineSigning, 'targetsKeys'>): TufRepository {
  const expected = Math.max(repo.targets.signed.version, repo.taken?.targets ?? 0) + 1;
  if (targets.signed.version !== expected) {
    throw new TufInvalidChangeError(`targets version ${targets.signed.version} is not the next version (${expected}): targets changed since the file was written; write it again`);
  }
  // A pushed rotate-publish-key (or a first delegation) has its role signed here, by the new key at hand.
  const published = publishRoleFor(repo, signedJSON(targets), signing, { keyRequired: true });
  return refreshOnline({ ...repo, targets, ...(published && { published }) }, signing);
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
  json.delegations = keepPublishDelegation(json, signersDelegation([...signers, { keyID: signer.keyID, key: signer.key.toJSON(), scope }]));
  json[REVOKED_FIELD] = revoked;
  return nextTargets(repo, json, signing);
}

/** A new targets version without the signer, remembered as revoked; at least one signer stays. */
export function revokeSigner(repo: TufRepository, keyID: string, signing: OnlineSigning): TufRepository {
  const json = signedJSON(repo.targets);
  const signers = signersOf(json);
  if (!signers.some((s) => s.keyID === keyID)) throw new TufUnknownSignerError(`key ${keyID} is not a release signer`);
  if (signers.length === 1) throw new TufInvalidChangeError(`key ${keyID} is the last release signer: add another before revoking it`);
  json.delegations = keepPublishDelegation(json, signersDelegation(signers.filter((s) => s.keyID !== keyID)));
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

/**
 * Adds (or replaces) a target, refused unless its signer is a current release signer for its path: into
 * the publish role when top-level targets delegates it (signed by the release-publish key), else into
 * top-level targets (signed by the targets key).
 */
export function addTarget(repo: TufRepository, target: ReleaseTarget, signing: OnlineSigning): TufRepository {
  assertReleaseSigner(repo.targets, target.signerKeyID, target.path);
  const entry = { length: target.length, hashes: { sha256: target.sha256 }, custom: { signer: target.signerKeyID, ...(target.signerIdentity && { signerIdentity: target.signerIdentity }) } };
  return withWorkerTargets(repo, { ...workerTargetsOf(repo), [target.path]: entry }, signing);
}

/**
 * The targets map of the role the worker lists releases and on-demand deltas in: the publish role when
 * top-level targets delegates it (empty before its first version), else top-level targets.
 */
export function workerTargetsOf(repo: TufRepository): Record<string, unknown> {
  const role = delegatesPublishing(repo.targets) ? repo.published : repo.targets;
  return { ...((role && (signedJSON(role).targets as Record<string, unknown>)) ?? {}) };
}

/** `targets` as the next version of the worker's role (workerTargetsOf): the publish role signed by the release-publish key, else top-level targets by the targets key. */
export function withWorkerTargets(repo: TufRepository, targets: Record<string, unknown>, signing: OnlineSigning): TufRepository {
  assertWorkerMayPublish(repo.targets);
  if (delegatesPublishing(repo.targets)) {
    const json = signedJSON(repo.published ?? signedPublished(emptyPublishedJSON(signing.now, signing.expiries ?? DEFAULT_EXPIRIES), 0, signing));
    json.targets = targets;
    return nextPublished(repo, json, signing);
  }
  const json = signedJSON(repo.targets);
  json.targets = targets;
  return nextTargets(repo, json, signing);
}

/** Changes a listed manifest's entry (approvals) in the role that lists it. */
export function updateEntry(repo: TufRepository, path: string, update: (custom: Record<string, unknown>) => void, signing: OnlineSigning): TufRepository {
  const role = entryRole(repo.targets, repo.published, path);
  if (!role) throw new TufInvalidChangeError(`${path} is not a target`);
  const json = signedJSON(role === 'published' ? repo.published! : repo.targets);
  update((json.targets as Record<string, { custom: Record<string, unknown> }>)[path]!.custom);
  return role === 'published' ? nextPublished(repo, json, signing) : nextTargets(repo, json, signing);
}

/** The publish role as `json` says, signed as its next version by the release-publish key; snapshot and timestamp follow. */
export function nextPublished(repo: TufRepository, json: SignedJSON, signing: OnlineSigning): TufRepository {
  assertWorkerMayPublish(repo.targets, signing.publishKey?.keyID);
  const version = Math.max(repo.published?.signed.version ?? 0, repo.taken?.published ?? 0) + 1;
  return refreshOnline({ ...repo, published: signedPublished(json, version, signing) }, signing);
}

/**
 * TUF_PUBLISHING_REVOKED when targets stopped delegating releases to the worker (revoke-publish), and
 * TUF_PUBLISH_KEY_REPLACED when the worker's key (`keyID`) is one targets replaced: named before anything
 * is signed or uploaded, so a worker left with the old key says why instead of failing the self-check.
 */
export function assertWorkerMayPublish(targets: Metadata<Targets>, keyID?: string): void {
  const json = signedJSON(targets);
  if (!delegatesPublishing(targets) && typeof json[PUBLISHING_REVOKED_FIELD] === 'string') {
    throw new TufPublishingRevokedError(`targets version ${targets.signed.version} stopped delegating release manifests to the worker at ${json[PUBLISHING_REVOKED_FIELD]} (ota trust revoke-publish): delegate them again with \`ota trust delegate-publish\``);
  }
  const replaced = keyID === undefined ? undefined : replacedPublishKeys(json)[keyID];
  if (replaced) {
    throw new TufPublishKeyReplacedError(`release-publish key ${keyID} was replaced at ${replaced.replaced} (targets version ${targets.signed.version} delegates to ${publishKeyIDOf(targets)}): the worker needs the new key in trust.keysDir/release-publish.pem`);
  }
}

function emptyPublishedJSON(now: Date, expiries: TufExpiries): SignedJSON {
  return { version: 1, expires: expiresAfter(now, expiries.targets), spec_version: '1.0.31', targets: {} };
}

export function signedPublished(json: SignedJSON, version: number, signing: Pick<OnlineSigning, 'publishKey' | 'now' | 'expiries'>): Metadata<Targets> {
  if (!signing.publishKey) throw new TufInvalidChangeError('the repository delegates releases to the release-publish role: this change needs the release-publish key (trust.keysDir/release-publish.pem)');
  const expiries = signing.expiries ?? DEFAULT_EXPIRIES;
  // The role is the worker's and online: re-signed at every publish (and by the refresh when it nears expiry).
  return signMetadata(unsigned(MetadataKind.Targets, { ...json, version, expires: expiresAfter(signing.now, expiries.targets) }), [signing.publishKey]);
}

/**
 * New snapshot and timestamp versions over the same targets (the freshness re-sign). With the
 * release-publish key, a publish role past half its life is re-signed too, so it never expires unseen.
 */
export function refreshOnline(repo: TufRepository, signing: Omit<OnlineSigning, 'targetsKeys'>): TufRepository {
  const expiries = signing.expiries ?? DEFAULT_EXPIRIES;
  const published = repo.published;
  // Only by the key targets delegates the role to: a stale key here (or a revoked delegation) leaves it as it is.
  if (published && signing.publishKey && signing.publishKey.keyID === publishKeyIDOf(repo.targets) && Date.parse(published.signed.expires) - signing.now.getTime() < (expiries.targets * 3_600_000) / 2) {
    const version = Math.max(published.signed.version, repo.taken?.published ?? 0) + 1;
    repo = { ...repo, published: signedPublished(signedJSON(published), version, signing) };
  }
  const snapshot = signMetadata(
    unsigned(MetadataKind.Snapshot, {
      version: Math.max(repo.snapshot?.signed.version ?? 0, repo.taken?.snapshot ?? 0) + 1,
      expires: expiresAfter(signing.now, expiries.snapshot),
      spec_version: '1.0.31',
      meta: { 'targets.json': metaFileFor(repo.targets).toJSON(), ...(repo.published && { [PUBLISH_FILE]: metaFileFor(repo.published).toJSON() }) },
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
