// The TPM-held device key as the envelope signer: only the public half is read out; every
// signature is made inside the TPM (tpm2_sign), so no file in stateDir can leak or replace it.
import type { HeldDeviceKey } from '../../schemas/device-envelope.js';
import { ensureTpmKeys, persistentHandles, readTpmPublic, TPM_HANDLES, tpmSign } from './tpm-keys.js';
import type { TpmConnection } from './tpm-tool.js';

export async function tpmDeviceKey(tpm: TpmConnection): Promise<HeldDeviceKey> {
  // The usual case (keys made at admission) reads one public key; the first use makes both keys.
  const made = (await persistentHandles(tpm)).has(TPM_HANDLES.deviceKey);
  const publicKeyPem = made ? (await readTpmPublic(tpm, TPM_HANDLES.deviceKey)).pem : (await ensureTpmKeys(tpm)).deviceKey.pem;
  return { algorithm: 'ecdsa-p256-sha256', holder: 'tpm', publicKeyPem, signBytes: (bytes) => tpmSign(tpm, bytes) };
}
