// The fleet's TUF repository as the gateway reads it on hot paths (offers waiting for approvals, the
// TUF versions a heartbeat's posture is judged against): read from the store once per timestamp
// version (its etag), not at every check-in or heartbeat.
import type { Metadata, Targets } from '@tufjs/models';
import type { ArtifactStore } from '../stores/artifact-store.js';
import { hasRepository, readRepository } from '../trust/metadata-store.js';
import { releaseView } from '../trust/publish-role.js';
import type { TufRepository } from '../trust/repository.js';

export interface GatewayTrust {
  repo: TufRepository;
  /** What verifiers look releases up in: targets with the publish role's entries (releaseView). */
  releases: Metadata<Targets>;
  /**
   * Verdicts worked out once per timestamp version (e.g. whether a release has its approvals: verifying
   * a keyless approval's Sigstore bundle is too dear for every check-in). Keyed by the caller.
   */
  memo: Map<string, unknown>;
}

const cache = new WeakMap<ArtifactStore, { etag: string } & GatewayTrust>();

/** The repository now, or undefined when the store has none. */
export async function currentTrust(store: ArtifactStore): Promise<GatewayTrust | undefined> {
  if (!(await hasRepository(store))) return undefined;
  const head = await store.head('tuf/timestamp.json');
  let cached = cache.get(store);
  if (!cached || cached.etag !== head?.etag) {
    const { repo, timestampEtag } = await readRepository(store);
    cached = { etag: timestampEtag, repo, releases: releaseView(repo.targets, repo.published), memo: new Map() };
    cache.set(store, cached);
  }
  return cached;
}
