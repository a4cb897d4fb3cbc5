// The signed envelope every device message travels in, spoken alike by device, gateway and
// simulator: canonical JSON bytes, base64, plus a signature over exactly those bytes, and the
// device key types it may be signed with. Signing and verification live together so no side can
// drift. Ed25519 signs the bytes directly; ECDSA P-256 signs their SHA-256 and emits DER (X9.62).
import { createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJsonBytes } from './manifest.js';
import type { KeyAlgorithm, SignedEnvelope } from './device-api.js';

export interface DeviceKey {
  algorithm: KeyAlgorithm;
  privateKey: KeyObject;
  /** SPKI PEM, what POST /v1/enroll takes. */
  publicKeyPem: string;
}

export function generateDeviceKey(algorithm: KeyAlgorithm): DeviceKey {
  const { privateKey } =
    algorithm === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return fromPrivateKey(privateKey);
}

/** The algorithm follows from the key itself, so a file cannot claim the wrong one. */
export function fromPrivateKey(privateKey: KeyObject): DeviceKey {
  const algorithm = algorithmOf(privateKey);
  return { algorithm, privateKey, publicKeyPem: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString() };
}

/**
 * The one check of a device key's type, for every door a key comes in by (enrollment, CSR, the CLI,
 * device trust): `type` and `curve` as node:crypto names them, or as a CSR's WebCrypto algorithm does.
 */
export function deviceKeyAlgorithm(type: string, curve?: string): KeyAlgorithm {
  if (type === 'ed25519' || type === 'Ed25519') return 'ed25519';
  if ((type === 'ec' && curve === 'prime256v1') || (type === 'ECDSA' && curve === 'P-256')) return 'ecdsa-p256-sha256';
  throw new UnsupportedDeviceKeyError(`device keys must be Ed25519 or ECDSA P-256, got ${curve ? `${type} ${curve}` : type}`);
}

export class UnsupportedDeviceKeyError extends Error {}

export function algorithmOf(key: KeyObject): KeyAlgorithm {
  return deviceKeyAlgorithm(key.asymmetricKeyType ?? 'unknown', key.asymmetricKeyDetails?.namedCurve);
}

function digestFor(algorithm: KeyAlgorithm): string | null {
  return algorithm === 'ed25519' ? null : 'sha256';
}

export function signPayload(payload: unknown, key: DeviceKey): SignedEnvelope {
  const bytes = Buffer.from(canonicalJsonBytes(payload));
  const signature = sign(digestFor(key.algorithm), bytes, { key: key.privateKey, dsaEncoding: 'der' });
  return { payload: bytes.toString('base64'), signature: signature.toString('base64'), algorithm: key.algorithm };
}

/**
 * A device key held outside the process (a TPM): only its public half is here, and it signs through
 * the device (ECDSA P-256 over SHA-256, DER), so its private half is never in memory or on disk.
 */
export interface HeldDeviceKey {
  algorithm: 'ecdsa-p256-sha256';
  publicKeyPem: string;
  signBytes(bytes: Buffer): Promise<Buffer>;
  /** How the key is held, for the fleet's assurance level ("tpm"). */
  holder: 'tpm';
}

/** Whatever signs the device's envelopes: a key in memory or a key held by hardware. */
export type DeviceSigner = DeviceKey | HeldDeviceKey;

/** signPayload for either kind of signer; the envelope is the same, so the gateway cannot tell them apart by bytes. */
export async function signEnvelope(payload: unknown, signer: DeviceSigner): Promise<SignedEnvelope> {
  if (!('signBytes' in signer)) return signPayload(payload, signer);
  const bytes = Buffer.from(canonicalJsonBytes(payload));
  const signature = await signer.signBytes(bytes);
  return { payload: bytes.toString('base64'), signature: signature.toString('base64'), algorithm: signer.algorithm };
}

/** Payload bytes of an envelope (not yet verified: only look at them to find the signer). */
export function envelopePayloadBytes(envelope: SignedEnvelope): Buffer {
  return Buffer.from(envelope.payload, 'base64');
}

/**
 * True when the signature over the payload bytes verifies with the enrolled key, and the envelope
 * names the algorithm the key was enrolled with (no algorithm substitution).
 */
export function verifyEnvelope(
  envelope: SignedEnvelope,
  enrolled: { publicKeyPem: string; keyAlgorithm: KeyAlgorithm },
  /** The enrolled PEM already parsed (the gateway's key cache); parsed here when absent. */
  parsedKey?: () => KeyObject,
): boolean {
  if (envelope.algorithm !== enrolled.keyAlgorithm) return false;
  let key: KeyObject;
  try {
    key = parsedKey ? parsedKey() : createPublicKey(enrolled.publicKeyPem);
  } catch {
    return false;
  }
  try {
    return verify(digestFor(envelope.algorithm), envelopePayloadBytes(envelope), { key, dsaEncoding: 'der' }, Buffer.from(envelope.signature, 'base64'));
  } catch {
    return false; // malformed DER and the like: a bad signature, not a server error
  }
}
