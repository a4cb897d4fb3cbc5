// Two-person releases at the gateway: a release whose channel requires more release signers than its
// target has (trust/release-approvals.ts) is not offered yet; devices would refuse it anyway. Keyless
// approvals count only once their Sigstore bundles verify, offline, against the fleet's Sigstore trust
// root (the trusted_root.json devices pin): a listed entry alone is not enough, since the worker's
// release-publish key signs the entries and could list a made-up approval. The repository is read once
// per timestamp version and each verdict worked out once per version (gateway/trust-cache.ts).
import { createHash } from 'node:crypto';
import type { LocalTrustRootJSON } from '../signing/trust-root.js';
import type { ArtifactStore } from '../stores/artifact-store.js';
import { TrustError } from '../trust/errors.js';
import { assertReleaseApproved } from '../trust/release-approvals.js';
import { currentTrust } from './trust-cache.js';

/**
 * Why the release may not be offered yet, or undefined (no repository: nothing to wait for). Without a
 * Sigstore trust root keyless approvals do not count (the release waits, as a device would refuse it).
 */
export async function approvalsMissing(store: ArtifactStore, path: string, manifestBytes: Uint8Array, channel: string, sigstoreRoot?: LocalTrustRootJSON): Promise<string | undefined> {
  const trust = await currentTrust(store);
  if (!trust) return undefined;
  const key = `approvals\n${path}\n${createHash('sha256').update(manifestBytes).digest('hex')}\n${channel}\n${sigstoreRoot ? rootId(sigstoreRoot) : '-'}`;
  if (trust.memo.has(key)) return trust.memo.get(key) as string | undefined;
  const verdict = judge(trust.releases, path, manifestBytes, channel, sigstoreRoot);
  trust.memo.set(key, verdict);
  return verdict;
}

function judge(releases: Parameters<typeof assertReleaseApproved>[0], path: string, manifestBytes: Uint8Array, channel: string, sigstoreRoot?: LocalTrustRootJSON): string | undefined {
  try {
    assertReleaseApproved(releases, path, manifestBytes, channel, sigstoreRoot);
    return undefined;
  } catch (err) {
    if (err instanceof TrustError) return err.message;
    throw err;
  }
}

/** One id per trust root object (a gateway holds one): verdicts under another root are not reused. */
const rootIds = new WeakMap<object, number>();
let nextRootId = 0;
function rootId(root: LocalTrustRootJSON): number {
  let id = rootIds.get(root);
  if (id === undefined) rootIds.set(root, (id = ++nextRootId));
  return id;
}
