// The device's half of AK credential activation: the gateway made a credential for the AK's name
// against the EK (attestation/make-credential.ts); only this TPM, holding the EK's private key and
// the AK with that very name, can unwrap it (TPM2_ActivateCredential, authorized for the EK by a
// PolicySecret session on the endorsement hierarchy). The unwrapped secret goes back to the gateway.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TPM_HANDLES, withScratch, type EkAlgorithm } from './tpm-keys.js';
import { runTpmTool, type TpmConnection } from './tpm-tool.js';

/** A credential is ~130 bytes (ECC EK) or ~340 (RSA 2048 EK); refuse anything far larger before handing it to the TPM tools. */
export const MAX_CREDENTIAL_BYTES = 1024;

/** `ekAlgorithm` must be the EK the credential was made for (TpmKeys.endorsementKeyAlgorithm). */
export async function activateCredential(tpm: TpmConnection, credentialFile: Buffer, akHandle: string = TPM_HANDLES.attestationKey, ekAlgorithm: EkAlgorithm = 'ecc'): Promise<Buffer> {
  if (credentialFile.length > MAX_CREDENTIAL_BYTES) throw new Error(`credential is ${credentialFile.length} bytes, more than ${MAX_CREDENTIAL_BYTES}`);
  return withScratch(async (dir) => {
    const [ek, session, input, output] = ['ek.ctx', 'session.ctx', 'credential', 'secret'].map((f) => join(dir, f)) as [string, string, string, string];
    await writeFile(input, credentialFile);
    await runTpmTool(tpm, 'tpm2_createek', ['-c', ek, '-G', ekAlgorithm]);
    try {
      await runTpmTool(tpm, 'tpm2_startauthsession', ['--policy-session', '-S', session]);
      await runTpmTool(tpm, 'tpm2_policysecret', ['-S', session, '-c', 'e']);
      await runTpmTool(tpm, 'tpm2_activatecredential', ['-c', akHandle, '-C', ek, '-i', input, '-o', output, '-P', `session:${session}`]);
      return await readFile(output);
    } finally {
      // Three transient slots in the simulator: drop the EK and the session whatever happened.
      await runTpmTool(tpm, 'tpm2_flushcontext', ['-t']).catch(() => undefined);
      await runTpmTool(tpm, 'tpm2_flushcontext', ['-s']).catch(() => undefined);
    }
  });
}
