// One pass over an artifact, feeding every consumer (hash, signer, verifier) chunk by chunk,
// so firmware images are never held in memory whole.
import { createHash, createSign, createVerify, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** An artifact to sign or verify: a file streamed from disk, or bytes already in memory. */
export type BlobSource = { path: string } | { bytes: Uint8Array };

interface ChunkSink {
  update(chunk: Buffer | Uint8Array): unknown;
}

export async function feedBlob(source: BlobSource, sinks: ChunkSink[]): Promise<void> {
  if ('bytes' in source) {
    for (const sink of sinks) sink.update(source.bytes);
    return;
  }
  for await (const chunk of createReadStream(source.path, { highWaterMark: 1 << 20 })) {
    for (const sink of sinks) sink.update(chunk as Buffer);
  }
}

export async function sha256Of(source: BlobSource): Promise<Buffer> {
  const hash = createHash('sha256');
  await feedBlob(source, [hash]);
  return hash.digest();
}

/**
 * sha256 digest and ECDSA-SHA256 signature of the artifact in one streamed pass.
 * createSign hashes incrementally, which is what lets us sign large images without
 * @sigstore/sign's builders (they need the whole artifact as a Buffer).
 */
export async function digestAndSign(source: BlobSource, privateKey: KeyObject): Promise<{ digest: Buffer; signature: Buffer }> {
  const hash = createHash('sha256');
  const signer = createSign('sha256');
  await feedBlob(source, [hash, signer]);
  return { digest: hash.digest(), signature: signer.sign(privateKey) };
}

/** Streamed counterpart of digestAndSign: the digest, and whether `signature` is valid under `publicKey`. */
export async function digestAndVerify(
  source: BlobSource,
  publicKey: KeyObject,
  signature: Uint8Array,
): Promise<{ digest: Buffer; signatureValid: boolean }> {
  const hash = createHash('sha256');
  const verifier = createVerify('sha256');
  await feedBlob(source, [hash, verifier]);
  return { digest: hash.digest(), signatureValid: verifier.verify(publicKey, signature) };
}
