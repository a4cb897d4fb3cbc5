// TPM2_MakeCredential in TypeScript against a real (software) TPM: the credential the gateway makes
// for an AK's name and the EK unwraps in that TPM with tpm2_activatecredential to the same secret;
// made for another TPM's AK (or against another TPM's EK) it does not unwrap. The AK's public area
// gives the name tpm2-tools prints, and a key that is not a restricted, TPM-bound signing key is refused.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { credentialFile, kdfa, makeCredential } from '../../attestation/make-credential.js';
import { attestationKeyName, parseEccPublic, TpmPublicError } from '../../attestation/tpm-public.js';
import { activateCredential } from '../../device-client/tpm/tpm-activate.js';
import { ensureTpmKeys, readTpmPublicArea, TPM_HANDLES } from '../../device-client/tpm/tpm-keys.js';
import { swtpmAvailable, useSoftwareTpm } from '../support/swtpm.js';

describe('KDFa', () => {
  it('is HMAC-SHA256 in counter mode over label NUL, contexts and the bit count', () => {
    const key = Buffer.alloc(32, 1);
    const a = kdfa(key, 'STORAGE', Buffer.from('u'), Buffer.alloc(0), 128);
    expect(a).toHaveLength(16);
    expect(kdfa(key, 'STORAGE', Buffer.from('u'), Buffer.alloc(0), 128)).toEqual(a);
    expect(kdfa(key, 'INTEGRITY', Buffer.from('u'), Buffer.alloc(0), 128)).not.toEqual(a);
    expect(kdfa(key, 'STORAGE', Buffer.from('u'), Buffer.alloc(0), 512)).toHaveLength(64);
  });
});

describe.skipIf(!swtpmAvailable('credential activation'))('credential activation (swtpm)', () => {
  const one = useSoftwareTpm('make-credential-a-');
  const two = useSoftwareTpm('make-credential-b-');

  it('a credential for this AK against this EK unwraps to the secret; the AK name is the one tpm2-tools reports', async () => {
    const keys = await ensureTpmKeys(one.tpm);
    const area = await readTpmPublicArea(one.tpm, TPM_HANDLES.attestationKey);
    const name = attestationKeyName(area, keys.attestationKey.pem);
    expect(name).toBe(keys.attestationKey.name);
    const secret = randomBytes(32);
    const unwrapped = await activateCredential(one.tpm, credentialFile(makeCredential(keys.endorsementKeyPem, Buffer.from(name, 'hex'), secret)));
    expect(unwrapped.equals(secret)).toBe(true);
  });

  it("another TPM's AK name, or another TPM's EK: activation fails in the TPM", async () => {
    const a = await ensureTpmKeys(one.tpm);
    const b = await ensureTpmKeys(two.tpm);
    const secret = randomBytes(32);
    // The gateway was told TPM one's EK and TPM two's AK: TPM one has no object of that name.
    const forB = credentialFile(makeCredential(a.endorsementKeyPem, Buffer.from(b.attestationKey.name, 'hex'), secret));
    await expect(activateCredential(one.tpm, forB)).rejects.toMatchObject({ code: 'TPM_TOOL_FAILED' });
    // ... and TPM two, which holds that AK, lacks TPM one's EK private key.
    await expect(activateCredential(two.tpm, forB)).rejects.toMatchObject({ code: 'TPM_TOOL_FAILED' });
  });

  it('refuses a public area that is not the PEM key, not restricted, or malformed', async () => {
    const a = await ensureTpmKeys(one.tpm);
    const b = await ensureTpmKeys(two.tpm);
    const area = await readTpmPublicArea(one.tpm, TPM_HANDLES.attestationKey);
    expect(() => attestationKeyName(area, b.attestationKey.pem)).toThrow(/not the key of ak.pem/);
    // The device key: a signing key, but not restricted (it signs arbitrary bytes), so no AK.
    const deviceKey = await readTpmPublicArea(one.tpm, TPM_HANDLES.deviceKey);
    expect(() => attestationKeyName(deviceKey, a.deviceKey.pem)).toThrow(/restricted signing key/);
    expect(() => parseEccPublic(area.subarray(0, 40))).toThrow(TpmPublicError);
    expect(() => parseEccPublic(Buffer.alloc(600))).toThrow(/more than 512/);
  });
});
