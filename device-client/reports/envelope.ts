// The signed envelope of device messages: canonical JSON bytes, base64, plus a signature over
// exactly those bytes. Signing and verification live together so device and gateway cannot drift.
// Ed25519 signs the bytes directly; ECDSA P-256 signs their SHA-256 and emits DER (X9.62).
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJsonBytes } from '../../schemas/manifest.js';
import type { KeyAlgorithm, SignedEnvelope } from '../../schemas/device-api.js';
import type { DeviceKey } from './device-key.js';

function digestFor(algorithm: KeyAlgorithm): string | null {
  return algorithm === 'ed25519' ? null : 'sha256';
}

export function signPayload(payload: unknown, key: DeviceKey): SignedEnvelope {
  const bytes = Buffer.from(canonicalJsonBytes(payload));
  const signature = sign(digestFor(key.algorithm), bytes, { key: key.privateKey, dsaEncoding: 'der' });
  return { payload: bytes.toString('base64'), signature: signature.toString('base64'), algorithm: key.algorithm };
}

/** Payload bytes of an envelope (not yet verified: only look at them to find the signer). */
export function envelopePayloadBytes(envelope: SignedEnvelope): Buffer {
  return Buffer.from(envelope.payload, 'base64');
}

/**
 * True when the signature over the payload bytes verifies with the enrolled key, and the envelope
 * names the algorithm the key was enrolled with (no algorithm substitution).
 */
export function verifyEnvelope(envelope: SignedEnvelope, enrolled: { publicKeyPem: string; keyAlgorithm: KeyAlgorithm }): boolean {
  if (envelope.algorithm !== enrolled.keyAlgorithm) return false;
  let key: KeyObject;
  try {
    key = createPublicKey(enrolled.publicKeyPem);
  } catch {
    return false;
  }
  try {
    return verify(digestFor(envelope.algorithm), envelopePayloadBytes(envelope), { key, dsaEncoding: 'der' }, Buffer.from(envelope.signature, 'base64'));
  } catch {
    return false; // malformed DER and the like: a bad signature, not a server error
  }
}
