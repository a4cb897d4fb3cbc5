// The endorsement key must be a TPM's (issue 15: EK certificates against TPM vendor CAs), against
// the real gateway and software TPMs whose EK certificates swtpm's local CA issued (the "vendor").
// A software key posing as a TPM, with a self-made EK certificate, is refused before anything is
// recorded (on a gateway that checks nothing it would have passed credential activation in software);
// a genuine EK certificate copied from another TPM is refused with another EK, and with its own EK
// it yields a credential only that TPM can unwrap; an AK cannot be re-registered against another
// EK; under requireEkCertificate a TPM without a certificate is refused and stays a software device.
import { createDecipheriv, createECDH, createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kdfa, kdfe } from '../../attestation/make-credential.js';
import { TPMA } from '../../attestation/tpm-public.js';
import { GatewayClient } from '../../device-client/gateway/gateway-client.js';
import { registerAttestationKey } from '../../device-client/tpm/attest.js';
import { activateCredential } from '../../device-client/tpm/tpm-activate.js';
import { ensureTpmKeys, readTpmPublicArea, TPM_HANDLES } from '../../device-client/tpm/tpm-keys.js';
import { tpmDeviceKey } from '../../device-client/tpm/tpm-device-key.js';
import { deviceStanding } from '../../gateway/attestation-gate.js';
import { certificateFingerprint } from '../../gateway/factory-identity.js';
import { attestationActivateResponseSchema, attestationKeyResponseSchema } from '../../schemas/attestation-api.js';
import { fromPrivateKey, signEnvelope, type DeviceSigner } from '../../schemas/device-envelope.js';
import { signEnrollClaimWith } from '../../schemas/enroll-proof.js';
import type { AttestationPolicy } from '../../attestation/standing.js';
import { TEST_POLICY } from '../support/attesting-device.js';
import { startTestGateway, type TestGateway } from '../support/device-gateway.js';
import { DEVICE_HARDWARE } from '../support/device-releases.js';
import { startSoftwareTpm, swtpmAvailable, type SoftwareTpm } from '../support/swtpm.js';
import { issueEkCertificate, makeVendorCa, swtpmLocalCa, type SwtpmLocalCa } from '../attestation/ek-vendor.js';

const STRICT: AttestationPolicy = { ...TEST_POLICY, requireTpm: true, requireEkCertificate: true };

const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u32 = (n: number) => Buffer.from([(n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
const tpm2b = (b: Buffer) => Buffer.concat([u16(b.length), b]);

/** A TPM2B_PUBLIC for a software P-256 key with every attribute of a TPM-bound AK: what an impostor sends. */
function forgedAkPublic(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  const attributes = TPMA.fixedTPM | TPMA.fixedParent | TPMA.sensitiveDataOrigin | TPMA.restricted | TPMA.sign | (1 << 6);
  const area = Buffer.concat([u16(0x0023), u16(0x000b), u32(attributes), u16(0), u16(0x0010), u16(0x0018), u16(0x000b), u16(0x0003), u16(0x0010), tpm2b(Buffer.from(jwk.x!, 'base64url')), tpm2b(Buffer.from(jwk.y!, 'base64url'))]);
  return tpm2b(area);
}

/** TPM2_ActivateCredential in software for an ECC EK whose private key the impostor holds. */
function softwareActivate(credentialFile: Buffer, ekPrivate: KeyObject, akName: Buffer): Buffer {
  let at = 8; // magic, version
  const take = () => {
    const n = credentialFile.readUInt16BE(at);
    const v = credentialFile.subarray(at + 2, at + 2 + n);
    at += 2 + n;
    return v;
  };
  const blob = take();
  const secret = take();
  const encIdentity = blob.subarray(2 + blob.readUInt16BE(0));
  const ex = secret.subarray(2, 2 + secret.readUInt16BE(0));
  const ey = secret.subarray(4 + ex.length);
  const jwk = ekPrivate.export({ format: 'jwk' });
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(Buffer.from(jwk.d!, 'base64url'));
  const z = ecdh.computeSecret(Buffer.concat([Buffer.from([4]), ex, ey]));
  const seed = kdfe(z, 'IDENTITY', ex, Buffer.from(jwk.x!, 'base64url'), 256);
  const plain = createDecipheriv('aes-128-cfb', kdfa(seed, 'STORAGE', akName, Buffer.alloc(0), 128), Buffer.alloc(16)).update(encIdentity);
  return plain.subarray(2, 2 + plain.readUInt16BE(0));
}

describe.skipIf(!swtpmAvailable('EK certificate attacks'))('the endorsement key must be a TPM\'s (swtpm, gateway)', () => {
  let root: string;
  let ca: SwtpmLocalCa;
  /** Vendor CA = swtpm's issuing CA; requireEkCertificate and requireTpm. */
  let strict: TestGateway;
  /** No vendor CA at first, requireEkCertificate false. */
  let lax: TestGateway;
  let genuine: SoftwareTpm;
  let other: SoftwareTpm;
  let bare: SoftwareTpm;

  const tokenEnroll = async (gw: TestGateway, deviceId: string, signer: DeviceSigner) => {
    const client = new GatewayClient(gw.url);
    const claim = { type: 'enroll' as const, deviceId, hardwareId: DEVICE_HARDWARE, publicKey: { algorithm: signer.algorithm, pem: signer.publicKeyPem } };
    expect((await client.enroll(await gw.tokenFor(deviceId), await signEnrollClaimWith(claim, signer))).status).toBe('admitted');
    return client;
  };
  const postKey = async (client: GatewayClient, signer: DeviceSigner, body: Record<string, unknown>, nonce?: string) =>
    client.postSigned('attestation key', '/v1/attestation/key', attestationKeyResponseSchema, await signEnvelope({ type: 'attestation-key', nonce: nonce ?? (await client.nonce(body.deviceId as string)), sentAt: new Date().toISOString(), ...body }, signer));
  /** The registration a real TPM would send, with parts replaced. */
  const tpmKeyBody = async (deviceId: string, tpm: SoftwareTpm, replace: { ekPem?: string; ekCertificate?: Buffer | null } = {}) => {
    const keys = await ensureTpmKeys(tpm);
    const certificate = replace.ekCertificate === null ? undefined : (replace.ekCertificate ?? keys.endorsementCertificate);
    return {
      deviceId,
      ak: { pem: keys.attestationKey.pem, qualifiedName: keys.attestationKey.qualifiedName },
      akPublic: (await readTpmPublicArea(tpm, TPM_HANDLES.attestationKey)).toString('base64'),
      ekPem: replace.ekPem ?? keys.endorsementKeyPem,
      ...(certificate ? { ekCertificate: certificate.toString('base64') } : {}),
    };
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ota-attack-ek-'));
    await mkdir(join(root, 'store'));
    ca = await swtpmLocalCa(join(root, 'vendor'));
    genuine = await startSoftwareTpm(join(root, 'genuine'), { setupArgs: ca.setupArgs });
    other = await startSoftwareTpm(join(root, 'other'), { setupArgs: ca.setupArgs });
    bare = await startSoftwareTpm(join(root, 'bare'));
    strict = await startTestGateway(join(root, 'strict'), join(root, 'store'), { attestation: STRICT });
    const issuer = await ca.issuerPem();
    await strict.fleet.addTpmVendorCa({ fingerprint: certificateFingerprint(issuer), name: 'swtpm-localca', certificatePem: issuer });
    lax = await startTestGateway(join(root, 'lax'), join(root, 'store'), { attestation: TEST_POLICY });
  }, 180_000);

  afterAll(async () => {
    await strict?.close();
    await lax?.close();
    for (const tpm of [genuine, other, bare]) await tpm?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("a TPM with its manufacturer's EK certificate: the AK is registered and activated, the EK recorded as the vendor CA's", async () => {
    const client = await tokenEnroll(strict, 'ek-genuine', await tpmDeviceKey(genuine));
    const answer = await registerAttestationKey({ deviceId: 'ek-genuine', tpm: { tcti: genuine.tcti, pcr: 16 } }, client);
    const issuer = certificateFingerprint(await ca.issuerPem());
    expect(answer).toMatchObject({ status: 'active', created: true, ek: { trust: 'vendor-ca', caFingerprint: issuer } });
    const key = await strict.fleet.getAttestationKey('ek-genuine');
    expect(key).toMatchObject({ status: 'active', ek: { trust: 'vendor-ca', caFingerprint: issuer, warning: null } });
    expect(Buffer.from(key!.ek!.certificate!, 'base64').equals((await ensureTpmKeys(genuine)).endorsementCertificate!)).toBe(true);
    expect((await deviceStanding(strict.fleet, STRICT, (await strict.fleet.getDevice('ek-genuine'))!)).standing).toBe('pending');
  });

  it('a software key posing as a TPM with a self-made EK certificate is refused: nothing recorded, nonce unspent, still a software device', async () => {
    const signer = fromPrivateKey(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
    const ek = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const ak = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
    const ekPem = ek.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    // The impostor's CA even copies the real issuer's name.
    const forged = await issueEkCertificate(await makeVendorCa('swtpm-localca'), ekPem);
    const body = {
      ak: { pem: ak.export({ type: 'spki', format: 'pem' }).toString(), qualifiedName: `000b${createHash('sha256').update('impostor').digest('hex')}` },
      akPublic: forgedAkPublic(ak).toString('base64'),
      ekPem,
      ekCertificate: forged.toString('base64'),
    };
    const client = await tokenEnroll(strict, 'ek-impostor', signer);
    const nonce = await client.nonce('ek-impostor');
    await expect(postKey(client, signer, { deviceId: 'ek-impostor', ...body }, nonce)).rejects.toMatchObject({ status: 403, code: 'ATTESTATION_EK_UNTRUSTED' });
    const { ekCertificate: _dropped, ...withoutCertificate } = body;
    await expect(postKey(client, signer, { deviceId: 'ek-impostor', ...withoutCertificate }, nonce)).rejects.toMatchObject({ status: 403, code: 'ATTESTATION_EK_CERTIFICATE_REQUIRED' });
    expect(await strict.fleet.getAttestationKey('ek-impostor')).toBeUndefined();
    // The refusals did not spend the nonce: the next request with it gets past the nonce check.
    const activation = { type: 'attestation-activate', deviceId: 'ek-impostor', secret: '00'.repeat(32), nonce, sentAt: new Date().toISOString() };
    await expect(client.postSigned('activate', '/v1/attestation/activate', attestationActivateResponseSchema, await signEnvelope(activation, signer))).rejects.toMatchObject({ status: 409, code: 'ak-not-registered' });
    // Not admitted as a TPM device: under requireTpm it stands quarantined as a software key.
    expect(await deviceStanding(strict.fleet, STRICT, (await strict.fleet.getDevice('ek-impostor'))!)).toMatchObject({ standing: 'quarantine', code: 'TPM_REQUIRED' });

    // Why the check matters: a gateway that checks no EK certificate activates the impostor's AK in software.
    const laxClient = await tokenEnroll(lax, 'ek-impostor', signer);
    const answer = await postKey(laxClient, signer, { deviceId: 'ek-impostor', ...body });
    expect(answer).toMatchObject({ status: 'pending-activation', ek: { trust: 'unverified', warning: expect.stringMatching(/no TPM vendor CA is configured/) } });
    const akName = (await lax.fleet.getAttestationKey('ek-impostor'))!.akName!;
    const secret = softwareActivate(Buffer.from(answer.credential!, 'base64'), ek.privateKey, Buffer.from(akName, 'hex'));
    const activated = { type: 'attestation-activate', deviceId: 'ek-impostor', secret: secret.toString('hex'), nonce: await laxClient.nonce('ek-impostor'), sentAt: new Date().toISOString() };
    expect(await laxClient.postSigned('activate', '/v1/attestation/activate', attestationActivateResponseSchema, await signEnvelope(activated, signer))).toEqual({ deviceId: 'ek-impostor', status: 'active' });
    expect((await lax.fleet.getAttestationKey('ek-impostor'))?.ek).toMatchObject({ trust: 'unverified' });
  });

  it("a genuine EK certificate copied from another TPM, sent with this TPM's EK, is a mismatch: nothing recorded", async () => {
    const signer = await tpmDeviceKey(other);
    const client = await tokenEnroll(strict, 'ek-copycat', signer);
    const copied = (await ensureTpmKeys(genuine)).endorsementCertificate!;
    await expect(postKey(client, signer, await tpmKeyBody('ek-copycat', other, { ekCertificate: copied }))).rejects.toMatchObject({ status: 403, code: 'ATTESTATION_EK_MISMATCH' });
    expect(await strict.fleet.getAttestationKey('ek-copycat')).toBeUndefined();
  });

  it('the genuine certificate with its own EK but another TPM\'s AK: only that TPM could unwrap the credential; re-registering the AK against another EK is refused', async () => {
    const signer = await tpmDeviceKey(other);
    const client = await tokenEnroll(lax, 'ek-copycat', signer);
    const issuer = await ca.issuerPem();
    await lax.fleet.addTpmVendorCa({ fingerprint: certificateFingerprint(issuer), name: 'swtpm-localca', certificatePem: issuer });
    const victim = await ensureTpmKeys(genuine);
    const answer = await postKey(client, signer, await tpmKeyBody('ek-copycat', other, { ekPem: victim.endorsementKeyPem, ekCertificate: victim.endorsementCertificate! }));
    expect(answer).toMatchObject({ status: 'pending-activation', ek: { trust: 'vendor-ca' } });
    // The other TPM holds the AK but not the genuine TPM's EK private key.
    await expect(activateCredential(other, Buffer.from(answer.credential!, 'base64'), TPM_HANDLES.attestationKey, 'rsa')).rejects.toMatchObject({ code: 'TPM_TOOL_FAILED' });
    const before = await lax.fleet.getAttestationKey('ek-copycat');
    // Swap in its own EK (no certificate: accepted as unverified on this gateway) for a credential it can unwrap: refused.
    await expect(postKey(client, signer, await tpmKeyBody('ek-copycat', other, { ekCertificate: null }))).rejects.toMatchObject({ status: 409, code: 'ATTESTATION_EK_MISMATCH' });
    expect(await lax.fleet.getAttestationKey('ek-copycat')).toEqual(before);
    expect(before).toMatchObject({ status: 'pending-activation', ekPem: victim.endorsementKeyPem });
  });

  it('requireEkCertificate: a TPM without an EK certificate is refused and stays a software device; without it, it is recorded unverified', async () => {
    const signer = await tpmDeviceKey(bare);
    const attesting = { deviceId: 'ek-bare', tpm: { tcti: bare.tcti, pcr: 16 } };
    const client = await tokenEnroll(strict, 'ek-bare', signer);
    await expect(registerAttestationKey(attesting, client)).rejects.toMatchObject({ status: 403, code: 'ATTESTATION_EK_CERTIFICATE_REQUIRED' });
    expect(await strict.fleet.getAttestationKey('ek-bare')).toBeUndefined();
    expect(await deviceStanding(strict.fleet, STRICT, (await strict.fleet.getDevice('ek-bare'))!)).toMatchObject({ standing: 'quarantine', code: 'TPM_REQUIRED' });

    const laxClient = await tokenEnroll(lax, 'ek-bare', signer);
    expect(await registerAttestationKey(attesting, laxClient)).toMatchObject({ status: 'active', ek: { trust: 'unverified', warning: expect.stringMatching(/no EK certificate/) } });
  });

  it('requireEkCertificate with no vendor CA configured: even a certified TPM is refused as untrusted', async () => {
    const fresh = await startSoftwareTpm(join(root, 'fresh'), { setupArgs: ca.setupArgs });
    try {
      const gw = await startTestGateway(join(root, 'nocas'), join(root, 'store'), { attestation: STRICT });
      try {
        const client = await tokenEnroll(gw, 'ek-nocas', await tpmDeviceKey(fresh));
        await expect(registerAttestationKey({ deviceId: 'ek-nocas', tpm: { tcti: fresh.tcti, pcr: 16 } }, client)).rejects.toMatchObject({ status: 403, code: 'ATTESTATION_EK_UNTRUSTED' });
        expect(await gw.fleet.getAttestationKey('ek-nocas')).toBeUndefined();
      } finally {
        await gw.close();
      }
    } finally {
      await fresh.stop();
    }
  });
});
