// Two-person releases at the gateway: a release whose channel requires more release signers than its
// target has (trust/release-approvals.ts) is not offered yet; devices would refuse it anyway. The
// repository is read from the store once per timestamp version (its etag), not at every check-in.
import type { Metadata, Targets } from '@tufjs/models';
import type { ArtifactStore } from '../stores/artifact-store.js';
import { TrustError } from '../trust/errors.js';
import { hasRepository, readRepository } from '../trust/metadata-store.js';
import { releaseView } from '../trust/publish-role.js';
import { assertReleaseApproved } from '../trust/release-approvals.js';

const cache = new WeakMap<ArtifactStore, { etag: string; targets: Metadata<Targets> }>();

/** Why the release may not be offered yet, or undefined (no repository: nothing to wait for). */
export async function approvalsMissing(store: ArtifactStore, path: string, manifestBytes: Uint8Array, channel: string): Promise<string | undefined> {
  if (!(await hasRepository(store))) return undefined;
  const head = await store.head('tuf/timestamp.json');
  let cached = cache.get(store);
  if (!cached || cached.etag !== head?.etag) {
    const { repo, timestampEtag } = await readRepository(store);
    cached = { etag: timestampEtag, targets: releaseView(repo.targets, repo.published) };
    cache.set(store, cached);
  }
  try {
    // Keyless approvals count here when listed; the device verifies their bundles before installing.
    assertReleaseApproved(cached.targets, path, manifestBytes, channel, 'listed-only');
    return undefined;
  } catch (err) {
    if (err instanceof TrustError) return err.message;
    throw err;
  }
}
