// Keyless release signers (TUF TAP 18): a Sigstore identity listed in targets like a key. The entry is
// a TUF key of type `sigstore-oidc` whose keyval names the OIDC issuer (exact) and the certificate
// identity (a regular expression the whole SAN must match, e.g. a CI workflow on any release tag); its
// key id is the sha256 of its canonical JSON, as for every key. A release or an approval by such a
// signer is a Sigstore bundle whose Fulcio certificate chains to the pinned trust root, with a trusted
// timestamp inside the certificate's validity, over exactly the manifest bytes.
import { createHash } from 'node:crypto';
import { canonicalize } from '@tufjs/canonical-json';
import { Key, type Metadata, type Targets } from '@tufjs/models';
import { SignatureVerificationError } from '../signing/errors.js';
import { addPinnedKey, type LocalTrustRootJSON } from '../signing/trust-root.js';
import { verifyKeylessBytes, type SignerPolicy } from '../signing/verify.js';
import { TufInvalidChangeError, TufSignerBundleInvalidError, TufSignerOutOfScopeError, TufUnknownSignerError } from './errors.js';
import { signedJSON } from './metadata.js';
import { describeScope, signerCovers, signersOf } from './release-signers.js';
import { publicKeyOf } from './tuf-keys.js';

export const KEYLESS_KEY_TYPE = 'sigstore-oidc';
export const KEYLESS_SCHEME = 'Fulcio';

/** A listed Sigstore identity: the issuer exactly, the SAN by an anchored pattern. */
export interface KeylessIdentity {
  issuer: string;
  /** Regular expression over the whole certificate SAN. */
  identity: string;
}

/** The identity a verified bundle's certificate carries. */
export interface CertificateIdentity {
  identity: string;
  issuer: string;
}

/** The TUF key entry of a keyless signer (a TufPublicKey's keyID and key, without a public key). */
export function keylessSignerKey(issuer: string, subjectPattern: string): { keyID: string; key: Key } {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new TufInvalidChangeError(`--issuer ${issuer} is not a URL (the OIDC issuer, e.g. https://token.actions.githubusercontent.com)`);
  }
  if (url.protocol !== 'https:' && url.hostname !== 'localhost') throw new TufInvalidChangeError(`--issuer ${issuer}: an OIDC issuer is an https URL`);
  try {
    new RegExp(`^(?:${subjectPattern})$`);
  } catch (err) {
    throw new TufInvalidChangeError(`--subject ${subjectPattern} is not a regular expression: ${(err as Error).message}`);
  }
  if (subjectPattern === '' || /^(\.\*|\.\+)$/.test(subjectPattern)) throw new TufInvalidChangeError(`--subject ${JSON.stringify(subjectPattern)} matches any identity of the issuer: name the CI workflow`);
  const body = { keytype: KEYLESS_KEY_TYPE, scheme: KEYLESS_SCHEME, keyval: { identity: subjectPattern, issuer } };
  const keyID = createHash('sha256').update(canonicalize(body)).digest('hex');
  return { keyID, key: new Key({ keyID, keyType: KEYLESS_KEY_TYPE, scheme: KEYLESS_SCHEME, keyVal: { identity: subjectPattern, issuer } }) };
}

/** The identity of a keyless signer's key JSON; undefined for a public key. */
export function keylessIdentityOf(keyJSON: Record<string, unknown>): KeylessIdentity | undefined {
  if (keyJSON.keytype !== KEYLESS_KEY_TYPE) return undefined;
  const keyval = keyJSON.keyval as Record<string, unknown> | undefined;
  if (typeof keyval?.identity !== 'string' || typeof keyval.issuer !== 'string') return undefined;
  return { identity: keyval.identity, issuer: keyval.issuer };
}

export function identityMatches(listed: KeylessIdentity, cert: CertificateIdentity): boolean {
  if (listed.issuer !== cert.issuer) return false;
  try {
    return new RegExp(`^(?:${listed.identity})$`).test(cert.identity);
  } catch {
    return false;
  }
}

/**
 * The key id of the current keyless signer this identity is, for `path` when given: TUF_UNKNOWN_SIGNER
 * when no listed entry matches (another identity, another issuer, or a revoked entry), and
 * TUF_SIGNER_OUT_OF_SCOPE when the entries that match cover other hardware ids only.
 */
export function matchKeylessSigner(targets: Metadata<Targets>, cert: CertificateIdentity, path?: string): string {
  const json = signedJSON(targets);
  const matching = signersOf(json).filter((s) => {
    const listed = keylessIdentityOf(s.key);
    return listed !== undefined && identityMatches(listed, cert);
  });
  const who = `${cert.identity} (issuer ${cert.issuer})`;
  if (matching.length === 0) throw new TufUnknownSignerError(`keyless identity ${who} is not a release signer of targets version ${targets.signed.version}: add it with \`ota trust add-signer --keyless\``);
  const covering = path === undefined ? matching : matching.filter((s) => signerCovers(json, s.keyID, path));
  if (covering.length === 0) throw new TufSignerOutOfScopeError(`keyless release signer ${who} signs for ${describeScope(matching[0]!.scope)}, not ${path}`);
  return covering.map((s) => s.keyID).sort()[0]!;
}

/** Does targets list any keyless signer (covering `path`, when given)? What a keyless publish needs before it signs. */
export function assertKeylessSignerListed(targets: Metadata<Targets>, path?: string): void {
  const json = signedJSON(targets);
  const keyless = signersOf(json).filter((s) => keylessIdentityOf(s.key));
  if (keyless.length === 0) throw new TufUnknownSignerError(`targets version ${targets.signed.version} lists no keyless release signer: add the CI identity with \`ota trust add-signer --keyless --issuer URL --subject REGEX\``);
  if (path !== undefined && !keyless.some((s) => signerCovers(json, s.keyID, path))) throw new TufSignerOutOfScopeError(`no keyless release signer of targets version ${targets.signed.version} signs ${path}`);
}

/**
 * A keyless bundle over the manifest bytes, verified against the pinned Sigstore trust root, then its
 * certificate identity matched against the listed keyless signers. A bundle that does not verify
 * (another Fulcio, no timestamp, other bytes) is TUF_SIGNER_BUNDLE_INVALID.
 */
export function identifyKeylessSigner(targets: Metadata<Targets>, bundle: unknown, bytes: Uint8Array, trustRoot: LocalTrustRootJSON, path?: string): { keyID: string } & CertificateIdentity {
  let cert: CertificateIdentity;
  try {
    cert = verifyKeylessBytes({ bundle, bytes, trustRoot });
  } catch (err) {
    if (err instanceof SignatureVerificationError) throw new TufSignerBundleInvalidError(`the keyless bundle does not verify: ${err.code}: ${err.message}`, { cause: err });
    throw err;
  }
  return { keyID: matchKeylessSigner(targets, cert, path), ...cert };
}

/** The identity behind a keyless bundle if it verifies under exactly this signer's entry; otherwise undefined. */
export function keylessSignatureBy(keyJSON: Record<string, unknown>, bundle: unknown, bytes: Uint8Array, trustRoot: LocalTrustRootJSON): CertificateIdentity | undefined {
  const listed = keylessIdentityOf(keyJSON);
  if (!listed) return undefined;
  try {
    const cert = verifyKeylessBytes({ bundle, bytes, trustRoot, identity: { pattern: listed.identity, issuer: listed.issuer } });
    return identityMatches(listed, cert) ? cert : undefined;
  } catch {
    return undefined;
  }
}

/**
 * How a manifest bundle is verified once TUF named its signer: a key signer's public key alone (nothing
 * else pinned), or a keyless signer's issuer and identity pattern against the Fulcio, Rekor and TSA of
 * the local trust root (its pinned keys dropped).
 */
export function releaseSignerPolicy(keyID: string, keyJSON: Record<string, unknown>, trustRoot: LocalTrustRootJSON): { trustRoot: LocalTrustRootJSON; policy: SignerPolicy } {
  const keyless = keylessIdentityOf(keyJSON);
  if (keyless) {
    return {
      trustRoot: { ...trustRoot, pinnedKeys: {} },
      policy: { mode: 'keyless', certificateIdentity: '', certificateIdentityPattern: keyless.identity, certificateIssuer: keyless.issuer },
    };
  }
  const { root, hint } = addPinnedKey({ ...trustRoot, pinnedKeys: {} }, publicKeyOf(Key.fromJSON(keyID, keyJSON as never)), { validFrom: new Date(0) });
  return { trustRoot: root, policy: { mode: 'key', allowedKeyHints: [hint] } };
}
