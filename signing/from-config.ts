// Turns the validated `signing` / `trust` config sections into a SigningMode. In key mode the
// key is created on first use and its public key pinned in the local trust root, so the
// embedded default works without any manual key ceremony.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import type { BuilderConfig, signingConfigSchema, trustConfigSchema } from '../schemas/config.js';
import { identityTokenFromEnv } from './keyless.js';
import { loadOrCreateSigningKey, publicKeyHint } from './keys.js';
import type { SigningMode } from './signing-mode.js';
import { addPinnedKey, emptyTrustRoot, pinPublicKeyInFile, readTrustRoot, type LocalTrustRootJSON } from './trust-root.js';
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


/**
 * How the build job signs its image and provenance (`ota release publish`, in the CI process).
 * keyFile: `--builder-key`, which only chooses the signer: what the worker accepts is the policy.
 * Keyless uses the job's OIDC token and the signing section's Fulcio/Rekor/TSA.
 */
export async function builderSigningModeFromConfig(
  builder: BuilderConfig,
  signing: SigningConfig,
  options: { keyFile?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<SigningMode> {
  if (options.keyFile || builder.mode === 'key') {
    // The embedded default generates the builder key on first use (never pinned in the device trust root).
    return { mode: 'key', key: await loadOrCreateSigningKey(options.keyFile ?? builder.keyPath) };
  }
  return {
    mode: 'keyless',
    fulcioURL: signing.fulcioURL,
    rekorURL: signing.rekorURL,
    tsaURL: signing.tsaURL,
    identityProvider: identityTokenFromEnv(signing.identityTokenEnv, options.env ?? process.env),
  };
}

/** What the worker verifies builder bundles against: the policy and the trust root it needs. */
export interface BuilderVerifier {
  policy: SignerPolicy;
  trustRoot: LocalTrustRootJSON;
  /** The policy in words, for error messages: `builder key <hint>` or `issuer ... subject ~ /.../`. */
  describe: string;
}

export async function builderVerifierFromConfig(builder: BuilderConfig, trust: TrustConfig): Promise<BuilderVerifier> {
  if (builder.mode === 'keyless') {
    const trustRoot = await readTrustRoot(builder.trustedRootPath ?? trust.trustedRootPath);
    return {
      // certificateIdentity is unused when a pattern is given; kept for the type and messages.
      policy: { mode: 'keyless', certificateIdentity: builder.subjectPattern!, certificateIdentityPattern: builder.subjectPattern!, certificateIssuer: builder.issuer! },
      trustRoot,
      describe: `keyless builder identity matching /${builder.subjectPattern}/ from issuer ${builder.issuer}`,
    };
  }
  let publicKey: KeyObject;
  if (builder.publicKeyPath) {
    try {
      publicKey = createPublicKey(await readFile(builder.publicKeyPath, 'utf8'));
    } catch (err) {
      throw new Error(`builder.publicKeyPath ${builder.publicKeyPath}: cannot read a PEM public key (${(err as Error).message})`);
    }
  } else {
    // Embedded default: the builder key is generated on first use, like the release key.
    publicKey = (await loadOrCreateSigningKey(builder.keyPath)).publicKey;
  }
  const hint = publicKeyHint(publicKey);
  // A trust root of its own: the builder key is never pinned where devices (or `ota verify`) look.
  const trustRoot = addPinnedKey(emptyTrustRoot(), publicKey, { hint, validFrom: new Date(0) }).root;
  return { policy: { mode: 'key', allowedKeyHints: [hint] }, trustRoot, describe: `builder key ${hint}` };
}
