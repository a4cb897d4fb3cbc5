// Keyless (Fulcio + Rekor [+ TSA]) plumbing shared by blob signing and attestations:
// the OIDC token source, the short-lived certificate request and the witnesses.
import type { Bundle } from '@sigstore/bundle';
import { FulcioSigner, RekorWitness, TSAWitness, type IdentityProvider, type Witness } from '@sigstore/sign';
import { KeySigner } from './key-signer.js';
import type { SigningKey } from './keys.js';

export interface KeylessOptions {
  fulcioURL: string;
  rekorURL: string;
  /** RFC 3161 timestamp authority; optional when Rekor's integrated time is the timestamp. */
  tsaURL?: string;
  identityProvider: IdentityProvider;
  /** Rekor entry type for DSSE bundles; 'dsse' is current, 'intoto' the legacy type. */
  dsseEntryType?: 'dsse' | 'intoto';
}

export class MissingIdentityTokenError extends Error {
  constructor(readonly envName: string) {
    super(`keyless signing needs an OIDC identity token in $${envName} (CI provides it, e.g. GitHub id-token: write)`);
    this.name = 'MissingIdentityTokenError';
  }
}

/** Reads the OIDC token from an environment variable at signing time, as CI systems provide it. */
export function identityTokenFromEnv(envName: string, env: NodeJS.ProcessEnv = process.env): IdentityProvider {
  return {
    getToken: async () => {
      const token = env[envName]?.trim();
      if (!token) throw new MissingIdentityTokenError(envName);
      return token;
    },
  };
}

/**
 * Fetches the token once, before any service is contacted, so a missing token surfaces as
 * MissingIdentityTokenError rather than FulcioSigner's generic wrapper.
 */
export async function withResolvedToken(options: KeylessOptions): Promise<KeylessOptions> {
  const token = await options.identityProvider.getToken();
  return { ...options, identityProvider: { getToken: async () => token } };
}

export function fulcioSigner(options: KeylessOptions, keyHolder?: SigningKey): FulcioSigner {
  return new FulcioSigner({
    fulcioBaseURL: options.fulcioURL,
    identityProvider: options.identityProvider,
    keyHolder: keyHolder ? new KeySigner(keyHolder, false) : undefined,
  });
}

/**
 * Gets a Fulcio certificate (PEM) for a key we hold. FulcioSigner is the public API for
 * this; it also signs whatever data it is handed, so we hand it nothing and sign the
 * artifact ourselves by streaming.
 */
export async function requestSigningCertificate(options: KeylessOptions, key: SigningKey): Promise<string> {
  const { key: material } = await fulcioSigner(options, key).sign(Buffer.alloc(0));
  if (material.$case !== 'x509Certificate') throw new Error('Fulcio did not return a certificate');
  return material.certificate;
}

export function keylessWitnesses(options: KeylessOptions): Witness[] {
  const witnesses: Witness[] = [new RekorWitness({ rekorBaseURL: options.rekorURL, entryType: options.dsseEntryType, fetchOnConflict: true })];
  if (options.tsaURL) witnesses.push(new TSAWitness({ tsaBaseURL: options.tsaURL }));
  return witnesses;
}

/** Runs the witnesses over a packaged bundle and merges tlog entries and timestamps into it (as BaseBundleBuilder does). */
export async function witnessBundle<T extends Bundle>(bundle: T, witnesses: Witness[], publicKeyOrCertPem: string): Promise<T> {
  const materials = await Promise.all(witnesses.map((w) => w.testify(bundle.content, publicKeyOrCertPem)));
  bundle.verificationMaterial.tlogEntries = materials.flatMap((m) => m.tlogEntries ?? []);
  bundle.verificationMaterial.timestampVerificationData = {
    rfc3161Timestamps: materials.flatMap((m) => m.rfc3161Timestamps ?? []),
  };
  return bundle;
}
