// A PKCS#10 certificate request for a device's own key (Ed25519 or ECDSA P-256, a node KeyObject as
// the device keeps it): what the device sends to POST /v1/certificates. The private key stays where it
// is; the request proves only that its sender holds it.
import { createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import { algorithmOf } from '../schemas/device-envelope.js';
import { x509 } from './x509.js';

function webcryptoAlgorithm(key: KeyObject): { import: { name: string; namedCurve?: string }; sign: { name: string; hash?: string } } {
  return algorithmOf(key) === 'ed25519'
    ? { import: { name: 'Ed25519' }, sign: { name: 'Ed25519' } }
    : { import: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } };
}

/** A CSR (PEM) with subject CN=<deviceId>, signed by the device's private key. */
export async function createDeviceCsr(privateKey: KeyObject, deviceId: string): Promise<string> {
  const alg = webcryptoAlgorithm(privateKey);
  const [signing, verifying] = await Promise.all([
    webcrypto.subtle.importKey('pkcs8', privateKey.export({ format: 'der', type: 'pkcs8' }), alg.import, false, ['sign']),
    webcrypto.subtle.importKey('spki', createPublicKey(privateKey).export({ format: 'der', type: 'spki' }), alg.import, true, ['verify']),
  ]);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${deviceId}`, keys: { privateKey: signing, publicKey: verifying }, signingAlgorithm: alg.sign });
  return `${csr.toString('pem')}\n`;
}
