// The TUF client workflow after the root (spec 5.4-5.6): timestamp, then the snapshot it pins, then the
// targets the snapshot pins; each signed by its role's threshold in the trusted root, not expired, and
// never older than what this verifier already trusted (rollback). Then a target against its entry.
import { createHash } from 'node:crypto';
import type { Metadata, MetaFile, Root, Snapshot, Targets, Timestamp } from '@tufjs/models';
import { TufMetaMismatchError, TufPublishKeyReplacedError, TufRollbackError, TufTargetMismatchError, TufThresholdNotMetError } from './errors.js';
import { assertFresh, newerTime } from './freshness.js';
import { metadataBytes, type TufSigned } from './metadata.js';
import { parseMetadata } from './parse.js';
import { assertReleaseSigner } from './release-signers.js';
import { delegatesPublishing, PUBLISH_FILE, PUBLISH_ROLE, publishKeyIDOf, releaseView, replacedKeyThatSigned } from './publish-role.js';
import { ISSUED_FIELD } from './repository.js';

/** What a verifier remembers between runs: the versions it trusted and the newest signed time it saw. */
export interface TrustedVersions {
  timestamp?: number;
  snapshot?: number;
  targets?: number;
  /** The publish role's version (trust/publish-role.ts), when the repository delegates it. */
  published?: number;
  newestSignedTime?: string;
}

export function verifyTimestamp(root: Metadata<Root>, bytes: Uint8Array, seen: TrustedVersions, now: Date): Metadata<Timestamp> {
  const timestamp = parseMetadata('timestamp', bytes);
  verifySignedBy(root, 'timestamp', timestamp);
  noRollback('timestamp', timestamp.signed.version, seen.timestamp);
  noRollback('snapshot (named by the timestamp)', timestamp.signed.snapshotMeta.version, seen.snapshot);
  assertFresh('timestamp', timestamp.signed.version, timestamp.signed.expires, now, seen.newestSignedTime);
  return timestamp;
}

export function verifySnapshot(root: Metadata<Root>, bytes: Uint8Array, timestamp: Metadata<Timestamp>, seen: TrustedVersions, now: Date): Metadata<Snapshot> {
  matchesMeta('snapshot.json', bytes, timestamp.signed.snapshotMeta);
  const snapshot = parseMetadata('snapshot', bytes);
  verifySignedBy(root, 'snapshot', snapshot);
  versionIs('snapshot', snapshot.signed.version, timestamp.signed.snapshotMeta.version);
  const targetsMeta = snapshot.signed.meta['targets.json'];
  if (!targetsMeta) throw new TufMetaMismatchError('snapshot does not list targets.json');
  noRollback('targets (named by the snapshot)', targetsMeta.version, seen.targets);
  const publishedMeta = snapshot.signed.meta[PUBLISH_FILE];
  if (publishedMeta) noRollback(`${PUBLISH_ROLE} (named by the snapshot)`, publishedMeta.version, seen.published);
  assertFresh('snapshot', snapshot.signed.version, snapshot.signed.expires, now, seen.newestSignedTime);
  return snapshot;
}

export function verifyTargets(root: Metadata<Root>, bytes: Uint8Array, snapshot: Metadata<Snapshot>, seen: TrustedVersions, now: Date): Metadata<Targets> {
  const meta = snapshot.signed.meta['targets.json']!;
  matchesMeta('targets.json', bytes, meta);
  const targets = parseMetadata('targets', bytes);
  verifySignedBy(root, 'targets', targets);
  versionIs('targets', targets.signed.version, meta.version);
  assertFresh('targets', targets.signed.version, targets.signed.expires, now, seen.newestSignedTime);
  return targets;
}

/**
 * The publish role (trust/publish-role.ts) when top-level targets delegates it: pinned by the snapshot
 * (version, length, sha256), signed by the key top-level targets delegates it to (the worker's
 * release-publish key, never a key of its own choosing), not rolled back, not expired. Undefined for a
 * repository without the delegation; a delegation the snapshot does not pin is a mismatch.
 */
export function verifyPublished(targets: Metadata<Targets>, bytes: Uint8Array | undefined, snapshot: Metadata<Snapshot>, seen: TrustedVersions, now: Date): Metadata<Targets> | undefined {
  const meta = snapshot.signed.meta[PUBLISH_FILE];
  if (!delegatesPublishing(targets)) return undefined;
  if (!meta || !bytes) throw new TufMetaMismatchError(`targets delegates ${PUBLISH_ROLE} but the snapshot does not pin ${PUBLISH_FILE}`);
  matchesMeta(PUBLISH_FILE, bytes, meta);
  const published = parseMetadata('targets', bytes);
  try {
    targets.verifyDelegate(PUBLISH_ROLE, published);
  } catch (err) {
    // Still signed by a key targets replaced (a worker with the old key, or whoever stole it): its own cause.
    const replaced = replacedKeyThatSigned(targets, published);
    if (replaced) {
      throw new TufPublishKeyReplacedError(
        `${PUBLISH_ROLE} version ${published.signed.version} is signed by release-publish key ${replaced.keyID}, replaced at ${replaced.replaced}; targets version ${targets.signed.version} delegates the role to ${publishKeyIDOf(targets)}`,
        { cause: err },
      );
    }
    throw new TufThresholdNotMetError(`${PUBLISH_ROLE} version ${published.signed.version} is not signed by the key targets version ${targets.signed.version} delegates it to: ${(err as Error).message}`, { cause: err });
  }
  versionIs(PUBLISH_ROLE, published.signed.version, meta.version);
  assertFresh(PUBLISH_ROLE, published.signed.version, published.signed.expires, now, seen.newestSignedTime);
  return published;
}

/** The versions to remember after a successful walk; the newest signed time never moves back. */
export function trustedAfter(seen: TrustedVersions, timestamp: Metadata<Timestamp>, snapshot: Metadata<Snapshot>, targets: Metadata<Targets>, published?: Metadata<Targets>): TrustedVersions {
  const issued = timestamp.signed.unrecognizedFields[ISSUED_FIELD];
  return {
    timestamp: timestamp.signed.version,
    snapshot: snapshot.signed.version,
    targets: targets.signed.version,
    ...(published && { published: published.signed.version }),
    newestSignedTime: newerTime(seen.newestSignedTime, typeof issued === 'string' ? issued : undefined),
  };
}

export interface VerifiedTarget {
  path: string;
  signerKeyID: string;
}

/**
 * The manifest bytes against targets: its entry (by path, or by sha256 when the path is unknown), its
 * length and sha256, then its signer, which must be a current release signer (revoked: TUF_SIGNER_REVOKED).
 */
export function verifyReleaseTarget(targets: Metadata<Targets>, bytes: Uint8Array, path?: string): VerifiedTarget {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const entry = path ? targets.signed.targets[path] : Object.values(targets.signed.targets).find((t) => t.hashes.sha256 === sha256);
  const name = path ?? `the manifest with sha256 ${sha256}`;
  if (!entry) throw new TufTargetMismatchError(`${name} is not a target of targets version ${targets.signed.version}`);
  if (entry.length !== bytes.length) throw new TufTargetMismatchError(`${entry.path} is ${bytes.length} bytes, the target says ${entry.length}`);
  if (entry.hashes.sha256 !== sha256) throw new TufTargetMismatchError(`${entry.path} has sha256 ${sha256}, the target says ${entry.hashes.sha256}`);
  const signer = entry.custom.signer;
  if (typeof signer !== 'string') throw new TufTargetMismatchError(`target ${entry.path} names no signer`);
  assertReleaseSigner(targets, signer, entry.path);
  return { path: entry.path, signerKeyID: signer };
}

function verifySignedBy(root: Metadata<Root>, role: string, metadata: Metadata<TufSigned>): void {
  try {
    root.verifyDelegate(role, metadata);
  } catch (err) {
    throw new TufThresholdNotMetError(`${role} version ${metadata.signed.version} is not signed by the threshold of root ${root.signed.version}: ${(err as Error).message}`, { cause: err });
  }
}

function noRollback(role: string, version: number, trusted: number | undefined): void {
  if (trusted !== undefined && version < trusted) throw new TufRollbackError(`${role} version ${version} is older than version ${trusted} already trusted`);
}

function versionIs(role: string, version: number, pinned: number): void {
  if (version !== pinned) throw new TufMetaMismatchError(`${role} is version ${version}, the role above pins version ${pinned}`);
}

function matchesMeta(name: string, bytes: Uint8Array, meta: MetaFile): void {
  if (meta.length !== undefined && bytes.length !== meta.length) throw new TufMetaMismatchError(`${name} is ${bytes.length} bytes, pinned at ${meta.length}`);
  const sha256 = meta.hashes?.sha256;
  if (sha256 && createHash('sha256').update(bytes).digest('hex') !== sha256) throw new TufMetaMismatchError(`${name} does not have the sha256 pinned for it`);
}

/** The whole repository as a fresh verifier would walk it from its newest root (a self-check before writing). */
export function verifyRepository(
  repo: { roots: Array<Metadata<Root>>; timestamp: Metadata<Timestamp>; snapshot: Metadata<Snapshot>; targets: Metadata<Targets>; published?: Metadata<Targets> },
  now: Date,
  seen: TrustedVersions = {},
) {
  const root = repo.roots[repo.roots.length - 1]!;
  const timestamp = verifyTimestamp(root, metadataBytes(repo.timestamp), seen, now);
  const snapshot = verifySnapshot(root, metadataBytes(repo.snapshot), timestamp, seen, now);
  const targets = verifyTargets(root, metadataBytes(repo.targets), snapshot, seen, now);
  const published = verifyPublished(targets, repo.published && metadataBytes(repo.published), snapshot, seen, now);
  return { targets: releaseView(targets, published), seen: trustedAfter(seen, timestamp, snapshot, targets, published) };
}
