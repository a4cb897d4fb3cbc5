// TPM manufacturers for the EK certificate tests: a vendor CA made here (or a self-made one, the
// attacker's), EK certificates it issues for a given EK public key, and swtpm's own local CA
// (swtpm_setup --create-ek-cert with swtpm_localca in a private folder), whose issuing CA signs
// the RSA EK certificate it writes into NV index 0x01c00002 of each TPM it manufactures.
import { createPublicKey, webcrypto } from 'node:crypto';
import { writeFile, mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { x509 } from '../../identity/x509.js';

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

type CryptoKeyPair = webcrypto.CryptoKeyPair;

export interface VendorCa {
  pem: string;
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

/** `notCa`: the same certificate without the CA bit (a key that must not sign certificates). */
/** `keys`: renew a CA (same name and key, new validity). */
export async function makeVendorCa(name: string, validity: { notBefore?: Date; notAfter?: Date; notCa?: boolean; keys?: CryptoKeyPair } = {}): Promise<VendorCa> {
  const keys = validity.keys ?? ((await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${name}`,
    keys,
    signingAlgorithm: SIGN,
    notBefore: validity.notBefore ?? new Date(Date.now() - 3600_000),
    notAfter: validity.notAfter ?? new Date(Date.now() + 10 * 365 * 86_400_000),
    extensions: validity.notCa ? [new x509.BasicConstraintsExtension(false, undefined, true)] : [new x509.BasicConstraintsExtension(true, 1, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  return { pem: cert.toString('pem'), cert, keys };
}

/** An EK certificate (DER) for `ekPem`, issued by `ca`, shaped like a manufacturer's (tcg-kp-EKCertificate, not a CA). */
export async function issueEkCertificate(ca: VendorCa, ekPem: string, validity: { notBefore?: Date; notAfter?: Date } = {}): Promise<Buffer> {
  const spki = createPublicKey(ekPem).export({ type: 'spki', format: 'der' });
  const cert = await x509.X509CertificateGenerator.create({
    subject: 'CN=tpm-ek',
    issuer: ca.cert.subject,
    publicKey: new Uint8Array(spki),
    signingKey: ca.keys.privateKey,
    signingAlgorithm: SIGN,
    notBefore: validity.notBefore ?? new Date(Date.now() - 3600_000),
    notAfter: validity.notAfter ?? new Date(Date.now() + 10 * 365 * 86_400_000),
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true), new x509.ExtendedKeyUsageExtension(['2.23.133.8.1']), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyAgreement, true)],
  });
  return Buffer.from(cert.rawData);
}

export interface SwtpmLocalCa {
  /** Extra swtpm_setup arguments that manufacture a TPM with an RSA EK certificate from this CA. */
  setupArgs: string[];
  /** The CA that signs the EK certificates (what an operator adds with `ota fleet tpm-ca add`). */
  issuerPem(): Promise<string>;
  rootPem(): Promise<string>;
}

/** swtpm's local CA in `dir` (created by swtpm_localca on first use: a root and an issuing CA). */
export async function swtpmLocalCa(dir: string): Promise<SwtpmLocalCa> {
  const ca = resolve(dir, 'localca');
  await mkdir(ca, { recursive: true });
  await writeFile(join(dir, 'localca.conf'), `statedir = ${ca}\nsigningkey = ${ca}/signkey.pem\nissuercert = ${ca}/issuercert.pem\ncertserial = ${ca}/certserial\n`);
  await writeFile(join(dir, 'localca.options'), '--platform-manufacturer edge-ota-test\n--platform-version 2.1\n--platform-model swtpm\n');
  await writeFile(
    join(dir, 'swtpm_setup.conf'),
    `create_certs_tool = /usr/bin/swtpm_localca\ncreate_certs_tool_config = ${resolve(dir, 'localca.conf')}\ncreate_certs_tool_options = ${resolve(dir, 'localca.options')}\nactive_pcr_banks = sha256\n`,
  );
  return {
    setupArgs: ['--config', resolve(dir, 'swtpm_setup.conf'), '--create-ek-cert'],
    issuerPem: () => readFile(join(ca, 'issuercert.pem'), 'utf8'),
    rootPem: () => readFile(join(ca, 'swtpm-localca-rootca-cert.pem'), 'utf8'),
  };
}
