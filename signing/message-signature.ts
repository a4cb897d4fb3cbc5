// Message-signature bundles (v0.3) for blobs: firmware images, manifests.
//
// Why not MessageSignatureBundleBuilder: it takes `{ data: Buffer }` and both hashes and signs
// that buffer, so the whole image would have to sit in memory. Instead we hash and sign in one
// streamed pass (createSign hashes incrementally: the signature is the same ECDSA-SHA256 over the
// artifact that the builder would produce), assemble the bundle with @sigstore/bundle and run
// @sigstore/sign's own Rekor/TSA witnesses over it. Keyless uses an ephemeral key we hold, with a
// Fulcio certificate obtained through FulcioSigner.
import { generateKeyPairSync } from 'node:crypto';
import { toMessageSignatureBundle, type BundleLatest } from '@sigstore/bundle';
import { digestAndSign, type BlobSource } from './blob-source.js';
import { keylessWitnesses, requestSigningCertificate, withResolvedToken, witnessBundle } from './keyless.js';
import { signingKeyFromPem, type SigningKey } from './keys.js';
import type { SigningMode } from './signing-mode.js';

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----(BEGIN|END) [^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

function ephemeralKey(): SigningKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return signingKeyFromPem(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());
}

/** Signs a blob into a v0.3 message-signature bundle, streaming the artifact once. */
export async function signBlob(source: BlobSource, signing: SigningMode): Promise<BundleLatest> {
  if (signing.mode === 'key') {
    const { digest, signature } = await digestAndSign(source, signing.key.privateKey);
    // No witnesses: air-gapped sites have no log; the pinned key is the trust anchor.
    return toMessageSignatureBundle({ digest, signature, keyHint: signing.key.hint, certificateChain: false }) as BundleLatest;
  }
  const keyless = await withResolvedToken(signing);
  const key = ephemeralKey();
  const certificatePem = await requestSigningCertificate(keyless, key);
  const { digest, signature } = await digestAndSign(source, key.privateKey);
  // certificateChain: false -> v0.3 media type with the single leaf `certificate`.
  const bundle = toMessageSignatureBundle({ digest, signature, certificate: pemToDer(certificatePem), certificateChain: false });
  return (await witnessBundle(bundle, keylessWitnesses(keyless), certificatePem)) as BundleLatest;
}
