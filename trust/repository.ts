// A fleet's TUF repository (spec sections 2 and 4): root (offline keys, threshold M of N), targets
// (the release manifests as targets, and the release signers), snapshot and timestamp (one online key,
// short expiry). Pure: every change returns a new repository value; storage is metadata-store.ts.
import { MetadataKind, type Metadata, type Root, type Snapshot, type Targets, type Timestamp } from '@tufjs/models';
import { TufInvalidChangeError, TufSignerRevokedError, TufUnknownSignerError } from './errors.js';
import { expiresAfter, metaFileFor, signedJSON, tufTime, unsigned, type SignedJSON } from './metadata.js';
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

/** The delegated role whose keys are the release signers (and, next, where per-hardware delegations go). */
export const RELEASE_SIGNERS_ROLE = 'releases';
/** Key ids once listed as release signers and revoked, with when: their releases get TUF_SIGNER_REVOKED. */
const REVOKED_FIELD = 'x-edge-ota-revoked-signers';
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
    delegations: signersDelegation(input.signers.map((s) => [s.keyID, s.key.toJSON()])),
  });
  return withTargets({ roots: [signedRoot] }, signedJSON(targets), input, 1);
}

/** A new targets version listing one more release signer; snapshot and timestamp follow. */
export function addSigner(repo: TufRepository, signer: TufPublicKey, signing: OnlineSigning): TufRepository {
  const json = signedJSON(repo.targets);
  const keys = signerKeys(json);
  if (keys.some(([id]) => id === signer.keyID)) throw new TufInvalidChangeError(`key ${signer.keyID} already signs releases`);
  const revoked = { ...revokedSigners(json) };
  delete revoked[signer.keyID];
  json.delegations = signersDelegation([...keys, [signer.keyID, signer.key.toJSON()]]);
  json[REVOKED_FIELD] = revoked;
  return nextTargets(repo, json, signing);
}

/** A new targets version without the signer, remembered as revoked; at least one signer stays. */
export function revokeSigner(repo: TufRepository, keyID: string, signing: OnlineSigning): TufRepository {
  const json = signedJSON(repo.targets);
  const keys = signerKeys(json);
  if (!keys.some(([id]) => id === keyID)) throw new TufUnknownSignerError(`key ${keyID} is not a release signer`);
  if (keys.length === 1) throw new TufInvalidChangeError(`key ${keyID} is the last release signer: add another before revoking it`);
  json.delegations = signersDelegation(keys.filter(([id]) => id !== keyID));
  json[REVOKED_FIELD] = { ...revokedSigners(json), [keyID]: tufTime(signing.now) };
  return nextTargets(repo, json, signing);
}

export interface ReleaseTarget {
  path: string;
  length: number;
  sha256: string;
  /** TUF key id of the key that signed the manifest's bundle. */
  signerKeyID: string;
}

/** Adds (or replaces) a target, refused unless its signer is a current release signer. */
export function addTarget(repo: TufRepository, target: ReleaseTarget, signing: OnlineSigning): TufRepository {
  assertReleaseSigner(repo.targets, target.signerKeyID);
  const json = signedJSON(repo.targets);
  json.targets = {
    ...(json.targets as object),
    [target.path]: { length: target.length, hashes: { sha256: target.sha256 }, custom: { signer: target.signerKeyID } },
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

/** The release signers' keys today, as [key id, key JSON] pairs. */
export function releaseSigners(targets: Metadata<Targets>): Array<[string, Record<string, unknown>]> {
  return signerKeys(signedJSON(targets));
}

export function revokedSignersOf(targets: Metadata<Targets>): Record<string, string> {
  return revokedSigners(signedJSON(targets));
}

/** TUF_SIGNER_REVOKED for a revoked key, TUF_UNKNOWN_SIGNER for a key never listed; both name the key id. */
export function assertReleaseSigner(targets: Metadata<Targets>, keyID: string): void {
  if (releaseSigners(targets).some(([id]) => id === keyID)) return;
  const revokedAt = revokedSignersOf(targets)[keyID];
  if (revokedAt) throw new TufSignerRevokedError(`release signer ${keyID} was revoked at ${revokedAt} (targets version ${targets.signed.version})`);
  throw new TufUnknownSignerError(`key ${keyID} is not a release signer of targets version ${targets.signed.version}: add it with \`ota trust add-signer\``);
}

export function checkThreshold(threshold: number, keyCount: number): void {
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > keyCount) {
    throw new TufInvalidChangeError(`threshold ${threshold} needs between 1 and ${keyCount} (the number of root keys) signatures`);
  }
}

function nextTargets(repo: TufRepository, json: SignedJSON, signing: OnlineSigning): TufRepository {
  return withTargets(repo, json, signing, Math.max(repo.targets.signed.version, repo.taken?.targets ?? 0) + 1);
}

function withTargets(repo: Pick<TufRepository, 'roots'> & Partial<TufRepository>, json: SignedJSON, signing: OnlineSigning, version: number): TufRepository {
  const expiries = signing.expiries ?? DEFAULT_EXPIRIES;
  const targets = signMetadata(unsigned(MetadataKind.Targets, { ...json, version, expires: expiresAfter(signing.now, expiries.targets) }), signing.targetsKeys);
  return refreshOnline({ ...repo, targets } as TufRepository, signing);
}

function signersDelegation(keys: Array<[string, unknown]>): Record<string, unknown> {
  return {
    keys: Object.fromEntries(keys),
    roles: [{ name: RELEASE_SIGNERS_ROLE, keyids: keys.map(([id]) => id), threshold: 1, terminating: true, paths: ['releases/*'] }],
  };
}

function signerKeys(json: SignedJSON): Array<[string, Record<string, unknown>]> {
  const delegations = json.delegations as { keys: Record<string, Record<string, unknown>>; roles: Array<{ name: string; keyids: string[] }> } | undefined;
  const role = delegations?.roles.find((r) => r.name === RELEASE_SIGNERS_ROLE);
  return (role?.keyids ?? []).flatMap((id) => (delegations!.keys[id] ? [[id, delegations!.keys[id]!] as [string, Record<string, unknown>]] : []));
}

function revokedSigners(json: SignedJSON): Record<string, string> {
  return (json[REVOKED_FIELD] as Record<string, string> | undefined) ?? {};
}
