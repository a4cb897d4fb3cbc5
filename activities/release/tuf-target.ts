// The publish step's side of the TUF repository (trust/publish-target.ts): the keys from trust.keysDir,
// refusals as non-retryable failures that keep their TUF_* code, and a retry when another publish won.
import { ApplicationFailure } from '@temporalio/activity';
import { loadOrCreateSigningKey } from '../../signing/keys.js';
import { ConflictError } from '../../stores/index.js';
import { TrustError } from '../../trust/errors.js';
import { workerSigning } from '../../trust/key-files.js';
import { hasRepository, readRepository } from '../../trust/metadata-store.js';
import { delegatesPublishing } from '../../trust/publish-role.js';
import { readAtMost } from '../../platform/bounded-read.js';
import { readTrustRoot } from '../../signing/trust-root.js';
import { addReleaseTarget, checkPublishSigner, type KeylessReleaseTarget, type PublishSigner } from '../../trust/publish-target.js';
import type { ReleaseTarget } from '../../trust/repository.js';
import { tufPublicKey } from '../../trust/tuf-keys.js';
import type { ReleaseActivityDeps } from './activity-deps.js';

const TARGET_ATTEMPTS = 10;
/** A manifest bundle is a few KiB (a certificate, a signature, a Rekor entry and a timestamp). */
const BUNDLE_LIMIT = 256 * 1024;

/** True when a TUF repository decides who signs (then nothing is pinned); throws when it refuses the signer. */
export async function releaseSignerListed(ctx: ReleaseActivityDeps, signer: PublishSigner): Promise<boolean> {
  return asFailure(async () => checkPublishSigner(ctx.store, signer, undefined, await publishKeyIDInUse(ctx)));
}

/** The worker's release-publish key id when targets delegates to one (a replaced key is refused before the pipeline runs). */
async function publishKeyIDInUse(ctx: ReleaseActivityDeps): Promise<string | undefined> {
  if (!(await hasRepository(ctx.store)) || !delegatesPublishing((await readRepository(ctx.store)).repo.targets)) return undefined;
  return (await workerSigning(ctx.config.trust, ctx.config.signing.keyPath, true)).publishKey?.keyID;
}

/** The published manifest as a target, signed by the release key's role and the online key. */
export async function addManifestTarget(ctx: ReleaseActivityDeps, path: string, bytes: Uint8Array, sha256: string): Promise<void> {
  if (!(await hasRepository(ctx.store))) return;
  const target = await targetFor(ctx, path, bytes, sha256);
  const delegated = delegatesPublishing((await readRepository(ctx.store)).repo.targets);
  const signing = () => workerSigning(ctx.config.trust, ctx.config.signing.keyPath, delegated);
  for (let attempt = 1; ; attempt++) {
    try {
      await asFailure(() => addReleaseTarget(ctx.store, target, signing));
      return;
    } catch (err) {
      if (!(err instanceof ConflictError) || attempt >= TARGET_ATTEMPTS) throw err;
    }
  }
}

/**
 * A manifest whose bundle (stored beside it) carries a certificate was signed keyless: its identity is
 * matched against the keyless signers, against the Sigstore root this worker verifies with. Otherwise
 * the release key signed it.
 */
async function targetFor(ctx: ReleaseActivityDeps, path: string, bytes: Uint8Array, sha256: string): Promise<ReleaseTarget | KeylessReleaseTarget> {
  const bundleText = await readAtMost(await ctx.store.getStream(`${path}.sigstore.json`), BUNDLE_LIMIT, `${path}.sigstore.json`);
  const bundle = JSON.parse(bundleText.toString('utf8')) as { verificationMaterial?: { certificate?: unknown } };
  if (bundle.verificationMaterial?.certificate) return { path, bytes, sha256, bundle, sigstoreRoot: await readTrustRoot(ctx.config.trust.trustedRootPath) };
  const releaseKey = await loadOrCreateSigningKey(ctx.config.signing.keyPath);
  return { path, length: bytes.length, sha256, signerKeyID: tufPublicKey(releaseKey.publicKey).keyID };
}

async function asFailure<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof TrustError) throw ApplicationFailure.nonRetryable(err.message, err.code);
    throw err;
  }
}
