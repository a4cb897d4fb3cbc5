// TPM2_MakeCredential in TypeScript against a real (software) TPM: the credential the gateway makes
// for an AK's name and the EK unwraps in that TPM with tpm2_activatecredential to the same secret;
// made for another TPM's AK (or against another TPM's EK) it does not unwrap. The AK's public area
// gives the name tpm2-tools prints, and a key that is not a restricted, TPM-bound signing key is refused.
// The same for an RSA 2048 EK (`tpm2_createek -G rsa`; the seed RSA-OAEP-encrypted with label
// "IDENTITY"), also on a TPM whose only EK certificate is the RSA one (swtpm_setup --create-ek-cert).
import { constants, generateKeyPairSync, privateDecrypt, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTpmTool } from '../../device-client/tpm/tpm-tool.js';
import { withScratch, type EkAlgorithm } from '../../device-client/tpm/tpm-keys.js';
import { startSoftwareTpm, type SoftwareTpm } from '../support/swtpm.js';
import { swtpmLocalCa } from './ek-vendor.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialFile, IDENTITY_LABEL, kdfa, makeCredential, MakeCredentialError } from '../../attestation/make-credential.js';
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

describe('MakeCredential for an RSA EK', () => {
  it('sends the seed RSA-OAEP(sha256, label "IDENTITY\\0") encrypted to the EK, and is deterministic in that seed', () => {
    const ek = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ekPem = ek.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const name = Buffer.concat([Buffer.from([0, 0x0b]), randomBytes(32)]);
    const seed = randomBytes(32);
    const a = makeCredential(ekPem, name, Buffer.alloc(32, 7), seed);
    expect(a.encryptedSecret.readUInt16BE(0)).toBe(256);
    const decrypted = privateDecrypt({ key: ek.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: IDENTITY_LABEL }, a.encryptedSecret.subarray(2));
    expect(decrypted.equals(seed)).toBe(true);
    // The blob depends only on seed, name and secret (OAEP's own randomness is in encryptedSecret alone).
    expect(makeCredential(ekPem, name, Buffer.alloc(32, 7), seed).credentialBlob.equals(a.credentialBlob)).toBe(true);
    expect(IDENTITY_LABEL.toString('latin1')).toBe('IDENTITY\0');
  });

  it('refuses RSA EKs other than 2048 bits (their templates use other symmetric keys)', () => {
    const pem = generateKeyPairSync('rsa', { modulusLength: 3072 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => makeCredential(pem, Buffer.concat([Buffer.from([0, 0x0b]), randomBytes(32)]), randomBytes(32))).toThrow(MakeCredentialError);
  });
});

/** `tpm2_createek -G <algorithm>`'s public key, PEM. */
async function createdEkPem(tpm: SoftwareTpm, algorithm: EkAlgorithm): Promise<string> {
  return withScratch(async (dir) => {
    await runTpmTool(tpm, 'tpm2_createek', ['-c', join(dir, 'ek.ctx'), '-G', algorithm, '-u', join(dir, 'ek.pem'), '-f', 'pem']);
    await runTpmTool(tpm, 'tpm2_flushcontext', ['-t']);
    return readFile(join(dir, 'ek.pem'), 'utf8');
  });
}

describe.skipIf(!swtpmAvailable('RSA EK credential activation'))('RSA EK credential activation (swtpm)', () => {
  let root: string;
  let certified: SoftwareTpm;
  const plain = useSoftwareTpm('make-credential-rsa-');
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'make-credential-ekcert-'));
    const ca = await swtpmLocalCa(join(root, 'ca'));
    certified = await startSoftwareTpm(join(root, 'tpm'), { setupArgs: ca.setupArgs });
  }, 120_000);
  afterAll(async () => {
    await certified?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('tpm2_createek -G rsa: the credential for this AK against the RSA EK unwraps to the secret', async () => {
    const keys = await ensureTpmKeys(plain.tpm);
    expect(keys.endorsementKeyAlgorithm).toBe('ecc'); // no EK certificate: ECC as before
    const rsaEk = await createdEkPem(plain.tpm, 'rsa');
    const secret = randomBytes(32);
    const file = credentialFile(makeCredential(rsaEk, Buffer.from(keys.attestationKey.name, 'hex'), secret));
    expect((await activateCredential(plain.tpm, file, TPM_HANDLES.attestationKey, 'rsa')).equals(secret)).toBe(true);
    // Loading the ECC EK instead cannot unwrap an RSA credential.
    await expect(activateCredential(plain.tpm, file, TPM_HANDLES.attestationKey, 'ecc')).rejects.toMatchObject({ code: 'TPM_TOOL_FAILED' });
  });

  it('a TPM whose only EK certificate is the RSA one attests with its RSA EK and reads that certificate from NV', async () => {
    const keys = await ensureTpmKeys(certified);
    expect(keys.endorsementKeyAlgorithm).toBe('rsa');
    expect(keys.endorsementKeyPem).toBe(await createdEkPem(certified, 'rsa'));
    expect(keys.endorsementCertificate?.subarray(0, 1)).toEqual(Buffer.from([0x30])); // DER SEQUENCE
    const secret = randomBytes(32);
    const file = credentialFile(makeCredential(keys.endorsementKeyPem, Buffer.from(keys.attestationKey.name, 'hex'), secret));
    expect((await activateCredential(certified, file, TPM_HANDLES.attestationKey, 'rsa')).equals(secret)).toBe(true);
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
