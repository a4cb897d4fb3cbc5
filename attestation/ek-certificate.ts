// Is the endorsement key a TPM's? A TPM manufacturer certifies each TPM's EK at the factory (the EK
// certificate in NV, TCG EK Credential Profile); the gateway checks that certificate against the TPM
// vendor CAs the fleet trusts (`ota fleet tpm-ca add`) and that its key is the very EK the AK's
// credential is made for. Without it, any TPM-shaped key (a software key posing as a TPM) passes
// credential activation. Pure apart from the signature check's WebCrypto; bounded before parsing.
import { createPublicKey } from 'node:crypto';
import { x509 } from '../identity/x509.js';

/** An EK certificate is 1-1.5 KB (swtpm's RSA one is 1016 bytes); anything near this is not one. */
export const MAX_EK_CERTIFICATE_BYTES = 4096;

export interface TpmVendorCa {
  /** SHA-256 of the certificate's DER, hex: how `ota fleet tpm-ca` names it. */
  fingerprint: string;
  certificatePem: string;
}

export type EkRefusal =
  | 'ATTESTATION_EK_CERTIFICATE_MALFORMED'
  | 'ATTESTATION_EK_CERTIFICATE_REQUIRED'
  | 'ATTESTATION_EK_MISMATCH'
  | 'ATTESTATION_EK_UNTRUSTED'
  | 'ATTESTATION_EK_CERTIFICATE_EXPIRED';

export type EkTrust =
  /** The EK certificate is issued by this vendor CA and certifies this EK. */
  | { ok: true; trust: 'vendor-ca'; caFingerprint: string; issuer: string }
  /** Accepted by policy (attestation.requireEkCertificate false) without proof the EK is a TPM's: the warning says why. */
  | { ok: true; trust: 'unverified'; warning: string }
  | { ok: false; code: EkRefusal; detail: string };

export interface EkInput {
  /** The EK public key the credential is made for (what the device sends as ekPem). */
  ekPem: string;
  /** The EK certificate as read from the TPM's NV index (DER), if the device sent one. */
  certificateDer?: Buffer;
  vendorCas: TpmVendorCa[];
  /** attestation.requireEkCertificate: refuse an EK without a certificate from a configured vendor CA. */
  requireCertificate: boolean;
  now: Date;
}

const refuse = (code: EkRefusal, detail: string): EkTrust => ({ ok: false, code, detail });

const validAt = (cert: x509.X509Certificate, now: Date) => cert.notBefore <= now && now <= cert.notAfter;

function isCa(cert: x509.X509Certificate): boolean {
  const usage = cert.getExtension(x509.KeyUsagesExtension);
  return cert.getExtension(x509.BasicConstraintsExtension)?.ca === true && (!usage || (usage.usages & x509.KeyUsageFlags.keyCertSign) !== 0);
}

async function signedBy(cert: x509.X509Certificate, issuer: x509.X509Certificate): Promise<boolean> {
  if (cert.issuer !== issuer.subject) return false;
  return cert.verify({ publicKey: issuer.publicKey, signatureOnly: true }).catch(() => false);
}

function sameKey(cert: x509.X509Certificate, ekPem: string): boolean {
  try {
    return createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: 'der', type: 'spki' }).equals(createPublicKey(ekPem));
  } catch {
    return false;
  }
}

/**
 * The EK's trust: certified by a configured vendor CA, accepted unverified (policy), or refused with
 * a code. A certificate that is sent is always checked (its key, then its issuer when vendor CAs are
 * configured); the policy only decides what a missing proof means.
 */
export async function judgeEndorsementKey(input: EkInput): Promise<EkTrust> {
  const { certificateDer: der, vendorCas, requireCertificate } = input;
  if (!der) {
    if (requireCertificate) return refuse('ATTESTATION_EK_CERTIFICATE_REQUIRED', 'the device sent no EK certificate and attestation.requireEkCertificate is set: the EK is not shown to be a TPM\'s');
    return { ok: true, trust: 'unverified', warning: 'no EK certificate: nothing shows the EK is a TPM\'s (a software key could pose as one)' };
  }
  if (der.length > MAX_EK_CERTIFICATE_BYTES) return refuse('ATTESTATION_EK_CERTIFICATE_MALFORMED', `the EK certificate is ${der.length} bytes, more than ${MAX_EK_CERTIFICATE_BYTES}`);
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(der);
  } catch (error) {
    return refuse('ATTESTATION_EK_CERTIFICATE_MALFORMED', `the EK certificate does not parse: ${(error as Error).message}`);
  }
  if (cert.getExtension(x509.BasicConstraintsExtension)?.ca) return refuse('ATTESTATION_EK_CERTIFICATE_MALFORMED', 'the EK certificate is a CA certificate');
  if (!sameKey(cert, input.ekPem)) return refuse('ATTESTATION_EK_MISMATCH', 'the EK certificate certifies another key than the EK the credential is made for');
  if (vendorCas.length === 0) {
    if (requireCertificate) return refuse('ATTESTATION_EK_UNTRUSTED', 'no TPM vendor CA is configured (ota fleet tpm-ca add) and attestation.requireEkCertificate is set');
    return { ok: true, trust: 'unverified', warning: 'no TPM vendor CA is configured (ota fleet tpm-ca add): the EK certificate was not checked' };
  }
  let expired: EkTrust | undefined;
  for (const ca of vendorCas) {
    let anchor: x509.X509Certificate;
    try {
      anchor = new x509.X509Certificate(ca.certificatePem);
    } catch {
      continue; // stored by `ota fleet tpm-ca add`, which parsed it; never trust what does not parse
    }
    if (!isCa(anchor) || !(await signedBy(cert, anchor))) continue;
    if (!validAt(cert, input.now)) return refuse('ATTESTATION_EK_CERTIFICATE_EXPIRED', `the EK certificate is valid ${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()}, not now`);
    // An expired vendor CA may have a renewed one (same key) configured beside it: look on.
    if (!validAt(anchor, input.now)) {
      expired = refuse('ATTESTATION_EK_CERTIFICATE_EXPIRED', `vendor CA "${anchor.subject}" is valid ${anchor.notBefore.toISOString()} to ${anchor.notAfter.toISOString()}, not now`);
      continue;
    }
    return { ok: true, trust: 'vendor-ca', caFingerprint: ca.fingerprint, issuer: anchor.subject };
  }
  if (expired) return expired;
  return refuse('ATTESTATION_EK_UNTRUSTED', `the EK certificate (issuer "${cert.issuer}") is not issued by a TPM vendor CA this fleet trusts (ota fleet tpm-ca add)`);
}
