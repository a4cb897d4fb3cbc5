// Two-person releases at the gateway: a release whose channel requires more release signers than its
// target has (trust/release-approvals.ts) is not offered yet; devices would refuse it anyway. The
// repository is read from the store once per timestamp version (gateway/trust-cache.ts), not at every check-in.
import type { ArtifactStore } from '../stores/artifact-store.js';
import { TrustError } from '../trust/errors.js';
import { assertReleaseApproved } from '../trust/release-approvals.js';
import { currentTrust } from './trust-cache.js';

/** Why the release may not be offered yet, or undefined (no repository: nothing to wait for). */
export async function approvalsMissing(store: ArtifactStore, path: string, manifestBytes: Uint8Array, channel: string): Promise<string | undefined> {
  const trust = await currentTrust(store);
  if (!trust) return undefined;
  try {
    // Keyless approvals count here when listed; the device verifies their bundles before installing.
    assertReleaseApproved(trust.releases, path, manifestBytes, channel, 'listed-only');
    return undefined;
  } catch (err) {
    if (err instanceof TrustError) return err.message;
    throw err;
  }
}
