// Turns the validated `signing` / `trust` config sections into a SigningMode. In key mode the
// key is created on first use and its public key pinned in the local trust root, so the
// embedded default works without any manual key ceremony.
import type { z } from 'zod';
import type { signingConfigSchema, trustConfigSchema } from '../schemas/config.js';
import { identityTokenFromEnv } from './keyless.js';
import { loadOrCreateSigningKey } from './keys.js';
import type { SigningMode } from './signing-mode.js';
import { pinPublicKeyInFile, type LocalTrustRootJSON } from './trust-root.js';
import type { SignerPolicy } from './verify.js';

export type SigningConfig = z.infer<typeof signingConfigSchema>;
export type TrustConfig = z.infer<typeof trustConfigSchema>;

export async function signingModeFromConfig(signing: SigningConfig, trust: TrustConfig, env: NodeJS.ProcessEnv = process.env): Promise<SigningMode> {
  if (signing.mode === 'key') {
    const key = await loadOrCreateSigningKey(signing.keyPath);
    // Idempotent: a no-op once the key is pinned.
    await pinPublicKeyInFile(trust.trustedRootPath, key.publicKey, { hint: key.hint });
    return { mode: 'key', key };
  }
  return {
    mode: 'keyless',
    fulcioURL: signing.fulcioURL,
    rekorURL: signing.rekorURL,
    tsaURL: signing.tsaURL,
    identityProvider: identityTokenFromEnv(signing.identityTokenEnv, env),
  };
}

/** Key-mode policy accepting every key pinned in the trust root (what a device with a single-tenant root wants). */
export function pinnedKeysPolicy(root: LocalTrustRootJSON): SignerPolicy {
  return { mode: 'key', allowedKeyHints: Object.keys(root.pinnedKeys ?? {}) };
}
