// The freshness re-sign the trust-refresh Schedule runs (workflows/trust-refresh.ts): new snapshot and
// timestamp versions over the same targets, signed by the online key, valid `expiryHours`. It uses the
// same pure step as `ota trust refresh` (trust/repository.ts refreshOnline); the write is the timestamp's
// compare-and-swap, so a publish that lands meanwhile wins and this tries again on the new state.
import { ApplicationFailure } from '@temporalio/activity';
import type { Config } from '../../schemas/config.js';
import { ConflictError, type ArtifactStore } from '../../stores/index.js';
import { TrustError } from '../../trust/errors.js';
import { signingKeyFile, trustKeyPaths } from '../../trust/key-files.js';
import { hasRepository, readRepository, writeRepository } from '../../trust/metadata-store.js';
import { DEFAULT_EXPIRIES, refreshOnline } from '../../trust/repository.js';

export interface TrustRefreshInput {
  /** How long the new snapshot and timestamp are valid. */
  expiryHours: number;
}

export type TrustRefreshResult =
  | { refreshed: true; timestampVersion: number; snapshotVersion: number; expires: string }
  | { refreshed: false; reason: string };

const ATTEMPTS = 10;

export async function refreshTrustMetadata(config: Config, store: ArtifactStore, input: TrustRefreshInput): Promise<TrustRefreshResult> {
  if (!(await hasRepository(store))) return { refreshed: false, reason: `${store.location} has no TUF repository (run \`ota trust init\`)` };
  const paths = trustKeyPaths(config.trust, config.signing.keyPath);
  const onlineKey = await signingKeyFile(paths.online);
  // The publish role (the worker's) is re-signed when past half its life, so it never expires unseen.
  const publishKey = await signingKeyFile(paths.publish);
  const expiries = { ...DEFAULT_EXPIRIES, snapshot: input.expiryHours, timestamp: input.expiryHours };
  for (let attempt = 1; ; attempt++) {
    try {
      const before = await readRepository(store);
      const after = refreshOnline(before.repo, { onlineKey, publishKey, now: new Date(), expiries });
      await writeRepository(store, after, before);
      return { refreshed: true, timestampVersion: after.timestamp.signed.version, snapshotVersion: after.snapshot.signed.version, expires: after.timestamp.signed.expires };
    } catch (err) {
      // A wrong online key or a broken repository does not mend by retrying.
      if (err instanceof TrustError) throw ApplicationFailure.nonRetryable(err.message, err.code);
      if (!(err instanceof ConflictError) || attempt >= ATTEMPTS) throw err;
    }
  }
}
