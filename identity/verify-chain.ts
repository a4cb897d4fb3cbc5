// Checks a leaf against the fleet CA: leaf -> intermediate -> the pinned root, each signature and
// issuer name, each validity window at `now`, CA constraints on the signers and the leaf's purpose.
// Every refusal is a distinct coded error (errors.ts); revocation is the caller's (fleet store) to check.
import {
  BrokenChainError,
  ChainExpiredError,
  ChainNotYetValidError,
  MalformedCertificateError,
  NotACaError,
  UntrustedRootError,
  WrongKeyPurposeError,
} from './errors.js';
import { x509 } from './x509.js';

export type KeyPurpose = 'serverAuth' | 'clientAuth';

export interface ChainInput {
  leafPem: string;
  intermediatePem: string;
  /** The pinned fleet root. */
  rootPem: string;
  purpose: KeyPurpose;
  now?: Date;
}

export interface VerifiedLeaf {
  subject: string;
  serialNumber: string;
  notAfter: Date;
  /** URI SANs, e.g. urn:edge-ota:device:<id>. */
  uris: string[];
  dnsNames: string[];
  ipAddresses: string[];
}

function parse(pem: string, what: string): x509.X509Certificate {
  try {
    return new x509.X509Certificate(pem);
  } catch (err) {
    throw new MalformedCertificateError(`the ${what} certificate does not parse (${(err as Error).message})`);
  }
}

function checkTime(cert: x509.X509Certificate, what: string, now: Date): void {
  if (now < cert.notBefore) throw new ChainNotYetValidError(`the ${what} certificate is valid only from ${cert.notBefore.toISOString()}`);
  if (now > cert.notAfter) throw new ChainExpiredError(`the ${what} certificate expired at ${cert.notAfter.toISOString()}`);
}

async function checkSignedBy(cert: x509.X509Certificate, what: string, issuer: x509.X509Certificate, issuerWhat: string): Promise<void> {
  if (cert.issuer !== issuer.subject) throw new BrokenChainError(`the ${what} certificate is issued by "${cert.issuer}", not by the ${issuerWhat} "${issuer.subject}"`);
  const ok = await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true }).catch(() => false);
  if (!ok) throw new BrokenChainError(`the ${what} certificate's signature does not verify with the ${issuerWhat} key`);
}

function checkCa(cert: x509.X509Certificate, what: string, maxPathLength?: number): void {
  const basic = cert.getExtension(x509.BasicConstraintsExtension);
  const usage = cert.getExtension(x509.KeyUsagesExtension);
  if (!basic?.ca) throw new NotACaError(`the ${what} certificate is not a CA (basic constraints)`);
  if (!usage || (usage.usages & x509.KeyUsageFlags.keyCertSign) === 0) throw new NotACaError(`the ${what} certificate may not sign certificates (key usage keyCertSign)`);
  if (maxPathLength !== undefined && basic.pathLength !== undefined && basic.pathLength < maxPathLength) throw new NotACaError(`the ${what} certificate's path length forbids this chain`);
}

export async function verifyChain(input: ChainInput): Promise<VerifiedLeaf> {
  const now = input.now ?? new Date();
  const leaf = parse(input.leafPem, 'leaf');
  const intermediate = parse(input.intermediatePem, 'intermediate');
  const root = parse(input.rootPem, 'root');
  await checkSignedBy(intermediate, 'intermediate', root, 'fleet root').catch((err: unknown) => {
    throw err instanceof BrokenChainError ? new UntrustedRootError(`${err.message}: the chain does not end in the pinned fleet root`) : err;
  });
  await checkSignedBy(leaf, 'leaf', intermediate, 'issuing CA');
  checkCa(root, 'root', 1);
  checkCa(intermediate, 'intermediate');
  if (leaf.getExtension(x509.BasicConstraintsExtension)?.ca) throw new NotACaError('the leaf certificate is a CA; a leaf must not be');
  for (const [cert, what] of [[root, 'root'], [intermediate, 'intermediate'], [leaf, 'leaf']] as const) checkTime(cert, what, now);
  const eku = leaf.getExtension(x509.ExtendedKeyUsageExtension);
  const wanted = x509.ExtendedKeyUsage[input.purpose];
  if (!eku?.usages.includes(wanted)) throw new WrongKeyPurposeError(`the leaf certificate is not for ${input.purpose} (extended key usage ${eku?.usages.join(', ') || 'missing'})`);
  const names = leaf.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [];
  const of = (type: string) => names.filter((n) => n.type === type).map((n) => n.value);
  return { subject: leaf.subject, serialNumber: leaf.serialNumber, notAfter: leaf.notAfter, uris: of('url'), dnsNames: of('dns'), ipAddresses: of('ip') };
}
