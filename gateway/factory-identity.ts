// Factory identity (IDevID): is the certificate chain a device presents at enrollment issued by a
// manufacturer CA the fleet trusts, for this device id and this device key? Pure and synchronous
// (Node's X509Certificate), so the admission decision can take its verdict as a plain fact. The
// key's possession is proved separately (the enroll body's proof, schemas/enroll-proof.ts).
import { createPublicKey, X509Certificate } from 'node:crypto';

export interface TrustedFactoryCa {
  fingerprint: string;
  certificatePem: string;
}

export type FactoryVerdict =
  | { ok: true; caFingerprint: string; leafPem: string }
  | { ok: false; code: FactoryRefusal; detail: string };

export type FactoryRefusal =
  | 'factory-certificate-malformed'
  | 'factory-ca-unknown'
  | 'factory-chain-broken'
  | 'factory-certificate-expired'
  | 'factory-key-mismatch'
  | 'factory-id-mismatch';

/** SHA-256 of a certificate's DER, lowercase hex without colons: how `ota fleet factory-ca` names CAs. */
export function certificateFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();
}

const refuse = (code: FactoryRefusal, detail: string): FactoryVerdict => ({ ok: false, code, detail });

/** Subject attribute values (CN=..., serialNumber=...) of a certificate, one per line in Node's rendering. */
function subjectValues(cert: X509Certificate, attribute: string): string[] {
  return cert.subject.split('\n').filter((line) => line.startsWith(`${attribute}=`)).map((line) => line.slice(attribute.length + 1));
}

function spki(pem: string | X509Certificate): Buffer {
  return (typeof pem === 'string' ? createPublicKey(pem) : pem.publicKey).export({ type: 'spki', format: 'der' });
}

function validAt(cert: X509Certificate, now: Date): boolean {
  return new Date(cert.validFrom) <= now && now <= new Date(cert.validTo);
}

/** Signed by `issuer`: names match (checkIssued) and the signature verifies with its key. */
function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

export function verifyFactoryChain(input: { chainPems: string[]; deviceId: string; publicKeyPem: string; trusted: TrustedFactoryCa[]; now: Date }): FactoryVerdict {
  let chain: X509Certificate[];
  try {
    chain = input.chainPems.map((pem) => new X509Certificate(pem));
  } catch (error) {
    return refuse('factory-certificate-malformed', `a factory certificate does not parse: ${(error as Error).message}`);
  }
  const leaf = chain[0]!;
  if (leaf.ca) return refuse('factory-certificate-malformed', 'the first factory certificate is a CA; it must be the device certificate (IDevID)');
  if (!spki(leaf).equals(spki(input.publicKeyPem))) return refuse('factory-key-mismatch', "the factory certificate's key is not the key this device enrolls");
  const names = [...subjectValues(leaf, 'CN'), ...subjectValues(leaf, 'serialNumber')];
  if (!names.includes(input.deviceId)) return refuse('factory-id-mismatch', `the factory certificate names ${names.join(', ') || 'no device'}, not ${input.deviceId}`);

  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i + 1]!.ca || !issuedBy(chain[i]!, chain[i + 1]!)) return refuse('factory-chain-broken', `factory certificate ${i + 1} is not issued by certificate ${i + 2} of the chain`);
  }
  const top = chain[chain.length - 1]!;
  const trusted = input.trusted.map((ca) => ({ ca, cert: new X509Certificate(ca.certificatePem) }));
  // The chain ends in a trusted CA, or one of its certificates is itself the trusted CA.
  const anchor =
    trusted.find(({ cert }) => chain.some((c) => c.fingerprint256 === cert.fingerprint256)) ?? trusted.find(({ cert }) => cert.ca && issuedBy(top, cert));
  if (!anchor) return refuse('factory-ca-unknown', `the factory chain (issuer "${top.issuer.replace(/\n/g, ', ')}") ends in no manufacturer CA this fleet trusts (ota fleet factory-ca add)`);
  for (const cert of [...chain, anchor.cert]) {
    if (!validAt(cert, input.now)) return refuse('factory-certificate-expired', `factory certificate "${cert.subject.replace(/\n/g, ', ')}" is valid ${cert.validFrom} to ${cert.validTo}, not now`);
  }
  return { ok: true, caFingerprint: anchor.ca.fingerprint, leafPem: input.chainPems[0]! };
}

/** `*` matches any run of characters; everything else literally. An auto-accept pattern over device ids. */
export function devicePatternMatches(pattern: string, deviceId: string): boolean {
  const regex = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return regex.test(deviceId);
}
