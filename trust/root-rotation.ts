// Root rotation (TUF spec 5.3): root N+1 must be signed by the threshold of root N's root keys and by
// its own threshold, and be exactly version N+1. A verifier holding root N walks N+1, N+2, ... in order,
// so a device offline across several rotations catches up one step at a time.
import { MetadataKind, type Metadata, type Root } from '@tufjs/models';
import { TufInvalidChangeError, TufRootChainBrokenError, TufThresholdNotMetError } from './errors.js';
import { assertFresh } from './freshness.js';
import { expiresAfter, signedJSON, unsigned } from './metadata.js';
import { parseMetadata } from './parse.js';
import { checkThreshold, DEFAULT_EXPIRIES, latestRoot, nextTargets, type OnlineSigning, type TufRepository } from './repository.js';
import { signMetadata, type TufPublicKey, type TufSigningKey } from './tuf-keys.js';

export interface ProposeRootInput {
  /** The root keys of N+1 (default: the same as N's); public keys are enough to propose. */
  newRootKeys?: TufPublicKey[];
  /** Threshold of N+1 (default: N's, capped at the new key count). */
  threshold?: number;
  /** New keys for the targets role and for the online roles (snapshot, timestamp); absent: N's. */
  roleKeys?: { targets?: TufPublicKey[]; online?: TufPublicKey };
  now: Date;
  rootExpiryHours?: number;
}

export interface RotateRootInput extends ProposeRootInput {
  /** Private keys that sign root N+1: enough of root N's keys and of the new keys to meet both thresholds. */
  signingKeys: TufSigningKey[];
}

/** Root N+1, unsigned: what the root key holders sign, each on their own (offline) machine. */
export function proposeRoot(repo: TufRepository, input: ProposeRootInput): Metadata<Root> {
  const current = latestRoot(repo);
  const json = signedJSON(current);
  const roles = json.roles as Record<string, { keyids: string[]; threshold: number }>;
  const keys = json.keys as Record<string, unknown>;
  const newKeys: Array<[string, unknown]> = input.newRootKeys ? input.newRootKeys.map((k) => [k.keyID, k.key.toJSON()]) : roles.root!.keyids.map((id) => [id, keys[id]]);
  if (newKeys.length === 0) throw new TufInvalidChangeError('root N+1 needs at least one root key');
  const threshold = input.threshold ?? Math.min(roles.root!.threshold, newKeys.length);
  checkThreshold(threshold, newKeys.length);
  const replace = (role: string, with_: TufPublicKey[]) => {
    for (const k of with_) keys[k.keyID] = k.key.toJSON();
    roles[role] = { keyids: with_.map((k) => k.keyID), threshold: 1 };
  };
  if (input.roleKeys?.targets) replace('targets', input.roleKeys.targets);
  if (input.roleKeys?.online) for (const role of ['snapshot', 'timestamp']) replace(role, [input.roleKeys.online]);
  for (const [id, key] of newKeys) keys[id] = key;
  roles.root = { keyids: newKeys.map(([id]) => id), threshold };
  // Keys no role lists any more leave the root.
  const used = new Set(Object.values(roles).flatMap((role) => role.keyids));
  for (const id of Object.keys(keys)) if (!used.has(id)) delete keys[id];
  json.version = current.signed.version + 1;
  json.expires = expiresAfter(input.now, input.rootExpiryHours ?? DEFAULT_EXPIRIES.root);
  return unsigned(MetadataKind.Root, json);
}

/** Appends a signed root N+1 once it meets both thresholds (TUF_THRESHOLD_NOT_MET otherwise). */
export function acceptRoot(repo: TufRepository, next: Metadata<Root>): TufRepository {
  verifyRootStep(latestRoot(repo), next);
  return { ...repo, roots: [...repo.roots, next] };
}

/** Propose, sign and accept in one step, for root keys that are all at hand. */
export function rotateRoot(repo: TufRepository, input: RotateRootInput): TufRepository {
  const candidate = proposeRoot(repo, input);
  const allowed = new Set([...latestRoot(repo).signed.roles.root!.keyIDs, ...candidate.signed.roles.root!.keyIDs]);
  return acceptRoot(repo, signMetadata(candidate, input.signingKeys.filter((k) => allowed.has(k.keyID))));
}

/**
 * Root N+1 whose targets and online roles name exactly the keys of `signing` (signed by root keys at
 * hand), then targets, snapshot and timestamp re-signed by them: after a targets or online key is
 * stolen, what it signs no longer verifies against the newest root (TUF_THRESHOLD_NOT_MET), and a
 * device walking the root chain moves to the new keys by itself.
 */
export function rotateRoleKeys(repo: TufRepository, input: Omit<RotateRootInput, 'roleKeys'>, signing: OnlineSigning): TufRepository {
  const rotated = rotateRoot(repo, { ...input, roleKeys: { targets: signing.targetsKeys, online: signing.onlineKey } });
  return nextTargets(rotated, signedJSON(rotated.targets), signing);
}

/** One step of the chain: `next` is version N+1 and meets the root threshold of `trusted` and its own. */
export function verifyRootStep(trusted: Metadata<Root>, next: Metadata<Root>): void {
  const expected = trusted.signed.version + 1;
  if (next.signed.version !== expected) {
    throw new TufRootChainBrokenError(`root version ${next.signed.version} where version ${expected} was expected`);
  }
  for (const [by, label] of [[trusted, `root ${trusted.signed.version}`], [next, `root ${next.signed.version} itself`]] as const) {
    try {
      by.verifyDelegate('root', next);
    } catch (err) {
      throw new TufThresholdNotMetError(`root ${next.signed.version} is not signed by the threshold of ${label}: ${(err as Error).message}`, { cause: err });
    }
  }
}

/**
 * From a trusted root to the newest: each of `newer` (the bytes of versions N+1, N+2, ... in order) must
 * verify against the one before. The final root must not be expired (5.3.10); intermediate ones may be.
 */
export function verifyRootChain(trusted: Metadata<Root>, newer: Uint8Array[], now: Date, newestSeen?: string): Metadata<Root> {
  let root = trusted;
  for (const bytes of newer) {
    const next = parseMetadata('root', bytes, `${root.signed.version + 1}.root.json`);
    verifyRootStep(root, next);
    root = next;
  }
  assertFresh('root', root.signed.version, root.signed.expires, now, newestSeen);
  return root;
}
