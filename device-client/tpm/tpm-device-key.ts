// The TPM-held device key as the envelope signer: only the public half is read out; every
// signature is made inside the TPM (tpm2_sign), so no file in stateDir can leak or replace it.
import type { HeldDeviceKey } from '../../schemas/device-envelope.js';
import { ensureTpmKeys, tpmSign } from './tpm-keys.js';
import type { TpmConnection } from './tpm-tool.js';

export async function tpmDeviceKey(tpm: TpmConnection): Promise<HeldDeviceKey> {
  const keys = await ensureTpmKeys(tpm);
  return { algorithm: 'ecdsa-p256-sha256', holder: 'tpm', publicKeyPem: keys.deviceKey.pem, signBytes: (bytes) => tpmSign(tpm, bytes) };
}
