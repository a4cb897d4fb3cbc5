// The TPM identity backend against a real (software) TPM: keys made once and found again, envelopes
// signed inside the TPM verifying with the enrolled public key, nothing secret written to disk.
import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { signEnvelope, verifyEnvelope } from '../../../schemas/device-envelope.js';
import { ensureTpmKeys, TPM_HANDLES, persistentHandles } from '../../../device-client/tpm/tpm-keys.js';
import { tpmDeviceKey } from '../../../device-client/tpm/tpm-device-key.js';
import { swtpmAvailable, useSoftwareTpm } from '../../support/swtpm.js';

describe.skipIf(!swtpmAvailable('TPM identity backend'))('TPM identity backend (swtpm)', () => {
  const env = useSoftwareTpm('tpm-keys-');

  it('makes the device key and the AK once, persistent, and finds the same keys again (also after a power cycle)', async () => {
    const { tpm } = env;
    const first = await ensureTpmKeys(tpm);
    expect(first.deviceKey.pem).toMatch(/BEGIN PUBLIC KEY/);
    expect(first.attestationKey.qualifiedName).toMatch(/^000b[0-9a-f]{64}$/);
    expect(first.endorsementKeyPem).toMatch(/BEGIN PUBLIC KEY/);
    const handles = await persistentHandles(tpm);
    expect(handles.has(TPM_HANDLES.deviceKey) && handles.has(TPM_HANDLES.attestationKey)).toBe(true);
    await tpm.restart();
    const again = await ensureTpmKeys(tpm);
    expect(again.deviceKey.pem).toBe(first.deviceKey.pem);
    expect(again.attestationKey.pem).toBe(first.attestationKey.pem);
    expect(again.endorsementKeyPem).toBe(first.endorsementKeyPem);
  });

  it('signs envelopes inside the TPM: they verify with the public key, a changed payload does not', async () => {
    const { dir, tpm } = env;
    const key = await tpmDeviceKey(tpm);
    const big = { deviceId: 'tpm-1', filler: 'x'.repeat(5000) };
    for (const payload of [{ deviceId: 'tpm-1', n: 1 }, big]) {
      const envelope = await signEnvelope(payload, key);
      expect(envelope.algorithm).toBe('ecdsa-p256-sha256');
      expect(verifyEnvelope(envelope, { publicKeyPem: key.publicKeyPem, keyAlgorithm: 'ecdsa-p256-sha256' })).toBe(true);
      const forged = { ...envelope, payload: Buffer.from(JSON.stringify({ deviceId: 'tpm-1', n: 2 })).toString('base64') };
      expect(verifyEnvelope(forged, { publicKeyPem: key.publicKeyPem, keyAlgorithm: 'ecdsa-p256-sha256' })).toBe(false);
    }
    expect(await readdir(dir)).toEqual(['swtpm']); // no key file, no scratch left behind
  });
});
