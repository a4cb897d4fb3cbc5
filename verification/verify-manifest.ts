// Verifies a manifest's Sigstore bundle offline against the pinned trust root, then parses it.
// Signature first: nothing in an unverified manifest is looked at.
import { parseManifest, ManifestError, type Manifest } from '../schemas/manifest.js';
import { SignatureVerificationError } from '../signing/errors.js';
import type { LocalTrustRootJSON } from '../signing/trust-root.js';
import { verifyBundle, type SignerPolicy, type VerifiedBundle } from '../signing/verify.js';
import { MalformedManifestError, TamperedManifestError, WrongSignerError } from './errors.js';

export interface KeylessIdentity {
  certificateIdentity: string;
  certificateIssuer: string;
}

/** Key mode trusts every pinned key of the root; keyless needs the expected identity. */
export function policyFor(trustRoot: LocalTrustRootJSON, keyless?: KeylessIdentity): SignerPolicy {
  if (keyless) return { mode: 'keyless', ...keyless };
  return { mode: 'key', allowedKeyHints: Object.keys(trustRoot.pinnedKeys ?? {}) };
}

export interface VerifiedManifest {
  manifest: Manifest;
  signer: VerifiedBundle['signer'];
}

export async function verifySignedManifest(input: {
  manifestBytes: Uint8Array;
  bundle: string | unknown;
  trustRoot: LocalTrustRootJSON;
  policy: SignerPolicy;
}): Promise<VerifiedManifest> {
  let verified: VerifiedBundle;
  try {
    verified = await verifyBundle({ bundle: input.bundle, artifact: { bytes: input.manifestBytes }, trustRoot: input.trustRoot, policy: input.policy });
  } catch (err) {
    if (!(err instanceof SignatureVerificationError)) throw err;
    switch (err.code) {
      case 'TAMPERED_ARTIFACT':
        throw new TamperedManifestError(`manifest does not match its signature: ${err.message}`, { cause: err });
      case 'MALFORMED_BUNDLE':
        throw new MalformedManifestError(`manifest signature bundle is malformed: ${err.message}`, { cause: err });
      default:
        throw new WrongSignerError(`manifest is not signed by a trusted signer: ${err.message}`, { cause: err });
    }
  }
  try {
    return { manifest: parseManifest(input.manifestBytes), signer: verified.signer };
  } catch (err) {
    if (err instanceof ManifestError) throw new MalformedManifestError(err.message, { cause: err });
    throw err;
  }
}
