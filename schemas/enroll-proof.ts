// Proof of possession for POST /v1/enroll: the device signs the claim (the enroll body without its
// `proof`) with the key it enrolls, the same canonical-JSON signing as every device message.
// Device, simulator and gateway share these two functions so the bytes never drift.
import type { EnrollClaim, EnrollRequest } from './device-api.js';
import { signEnvelope, signPayload, verifyEnvelope, type DeviceKey, type DeviceSigner } from './device-envelope.js';
import { canonicalJsonBytes } from './manifest.js';

export function signEnrollClaim(claim: EnrollClaim, key: DeviceKey): EnrollRequest {
  return { ...claim, proof: signPayload(claim, key).signature };
}

/** The same for any signer, a TPM-held key included. */
export async function signEnrollClaimWith(claim: EnrollClaim, signer: DeviceSigner): Promise<EnrollRequest> {
  return { ...claim, proof: (await signEnvelope(claim, signer)).signature };
}

/** True when `proof` verifies over the claim with the public key the body enrolls. */
export function enrollProofValid(request: EnrollRequest): boolean {
  const { proof, ...claim } = request;
  const payload = Buffer.from(canonicalJsonBytes(claim)).toString('base64');
  return verifyEnvelope({ payload, signature: proof, algorithm: request.publicKey.algorithm }, { publicKeyPem: request.publicKey.pem, keyAlgorithm: request.publicKey.algorithm });
}
