// What release activities share: the config, the artifact store (opened once per worker),
// a local work folder for files that tools need on disk, and the signing mode.
import { join } from 'node:path';
import type { Config } from '../../schemas/config.js';
import { openArtifactStore, type ArtifactStore } from '../../stores/index.js';
import { identityTokenFromEnv } from '../../signing/keyless.js';
import { loadOrCreateSigningKey } from '../../signing/keys.js';
import type { SigningMode } from '../../signing/signing-mode.js';
import { pinPublicKeyInFile } from '../../signing/trust-root.js';
import { defaultStateDir } from '../../platform/paths.js';
import { releaseSignerListed } from './tuf-target.js';

export class ReleaseActivityDeps {
  private storeInstance?: ArtifactStore;

  constructor(
    readonly config: Config,
    readonly workDir = join(process.env.OTA_STATE_DIR ?? defaultStateDir, 'work'),
  ) {}

  get store(): ArtifactStore {
    this.storeInstance ??= openArtifactStore(this.config.store);
    return this.storeInstance;
  }

  /**
   * Key mode: the configured key, generated on first use, its public key pinned in the
   * local trust root so verifiers (and devices provisioned from it) accept it. With a TUF
   * repository in the store, its targets role decides instead: an unlisted key is refused, nothing is pinned.
   * Keyless: Fulcio/Rekor/TSA from config, the OIDC token from the worker's environment.
   */
  async signingMode(mode: 'key' | 'keyless'): Promise<SigningMode> {
    const signing = this.config.signing;
    if (mode === 'keyless') {
      await releaseSignerListed(this, { mode: 'keyless' });
      return {
        mode: 'keyless',
        fulcioURL: signing.fulcioURL,
        rekorURL: signing.rekorURL,
        tsaURL: signing.tsaURL,
        identityProvider: identityTokenFromEnv(signing.identityTokenEnv),
      };
    }
    const key = await loadOrCreateSigningKey(signing.keyPath);
    if (!(await releaseSignerListed(this, { mode: 'key', publicKey: key.publicKey }))) await pinPublicKeyInFile(this.config.trust.trustedRootPath, key.publicKey, { hint: key.hint });
    return { mode: 'key', key };
  }
}
