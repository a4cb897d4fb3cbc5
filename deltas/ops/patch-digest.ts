// The trailer's patch digest is a sha256 chain rather than one sha256 over the file: the chain
// value after any op is 32 bytes a device can persist with its progress, so a resumed apply
// still checks every byte of the patch, including the part read before the power cut.
//   d0 = sha256(header bytes)
//   di = sha256(d(i-1) || op record bytes || sha256(payload bytes))
import { createHash, type Hash } from 'node:crypto';

export function startDigest(headerBytes: Buffer): string {
  return createHash('sha256').update(headerBytes).digest('hex');
}

export function chainDigest(previous: string, recordBytes: Buffer, payloadSha256: string): string {
  return createHash('sha256').update(Buffer.from(previous, 'hex')).update(recordBytes).update(Buffer.from(payloadSha256, 'hex')).digest('hex');
}

/** sha256 of an empty payload, used for ops without one. */
export const EMPTY_SHA256 = createHash('sha256').digest('hex');

export function payloadHasher(): Hash {
  return createHash('sha256');
}
