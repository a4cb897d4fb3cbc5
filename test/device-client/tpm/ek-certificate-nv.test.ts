// The EK certificate in the TPM's NV, as a manufacturer provisions it: the test plays the TPM
// vendor (its own CA certifies the TPM's ECC P-256 EK and writes the certificate into the TCG index
// 0x01c0000a under the platform hierarchy). The agent then attests with that ECC EK, reads the
// certificate back and the gateway records the EK as certified by the vendor CA; a TPM without
// one keeps the ECC EK and sends no certificate.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayClient } from '../../../device-client/gateway/gateway-client.js';
import { registerAttestationKey } from '../../../device-client/tpm/attest.js';
import { EK_CERTIFICATE_INDEX, endorsementKeyChoice, ensureTpmKeys, withScratch } from '../../../device-client/tpm/tpm-keys.js';
import { tpmDeviceKey } from '../../../device-client/tpm/tpm-device-key.js';
import { runTpmTool } from '../../../device-client/tpm/tpm-tool.js';
import { certificateFingerprint } from '../../../gateway/factory-identity.js';
import { signEnrollClaimWith } from '../../../schemas/enroll-proof.js';
import { issueEkCertificate, makeVendorCa, type VendorCa } from '../../attestation/ek-vendor.js';
import { TEST_POLICY } from '../../support/attesting-device.js';
import { startTestGateway, type TestGateway } from '../../support/device-gateway.js';
import { DEVICE_HARDWARE } from '../../support/device-releases.js';
import { startSoftwareTpm, swtpmAvailable, type SoftwareTpm } from '../../support/swtpm.js';

/** What a TPM vendor does at manufacture: certify the ECC EK and store the certificate in NV. */
async function provisionEccEkCertificate(tpm: SoftwareTpm, vendor: VendorCa): Promise<Buffer> {
  return withScratch(async (dir) => {
    await runTpmTool(tpm, 'tpm2_createek', ['-c', join(dir, 'ek.ctx'), '-G', 'ecc', '-u', join(dir, 'ek.pem'), '-f', 'pem']);
    await runTpmTool(tpm, 'tpm2_flushcontext', ['-t']);
    const der = await issueEkCertificate(vendor, await readFile(join(dir, 'ek.pem'), 'utf8'));
    await writeFile(join(dir, 'ek.crt'), der);
    await runTpmTool(tpm, 'tpm2_nvdefine', [EK_CERTIFICATE_INDEX.ecc, '-C', 'p', '-s', String(der.length), '-a', 'ppwrite|ppread|ownerread|authread|no_da|platformcreate']);
    await runTpmTool(tpm, 'tpm2_nvwrite', [EK_CERTIFICATE_INDEX.ecc, '-C', 'p', '-i', join(dir, 'ek.crt')]);
    return der;
  });
}

describe.skipIf(!swtpmAvailable('EK certificate in NV'))('the EK certificate in NV (swtpm, vendor played by the test)', () => {
  let root: string;
  let certified: SoftwareTpm;
  let bare: SoftwareTpm;
  let vendor: VendorCa;
  let gw: TestGateway;
  let provisioned: Buffer;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ota-ek-nv-'));
    await mkdir(join(root, 'store'));
    vendor = await makeVendorCa('Test TPM Vendor ECC EK CA');
    certified = await startSoftwareTpm(join(root, 'certified'));
    bare = await startSoftwareTpm(join(root, 'bare'));
    provisioned = await provisionEccEkCertificate(certified, vendor);
    gw = await startTestGateway(join(root, 'gw'), join(root, 'store'), { attestation: { ...TEST_POLICY, requireEkCertificate: true } });
    await gw.fleet.addTpmVendorCa({ fingerprint: certificateFingerprint(vendor.pem), name: 'test vendor', certificatePem: vendor.pem });
  }, 120_000);

  afterAll(async () => {
    await gw?.close();
    await certified?.stop();
    await bare?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('the agent picks the certified ECC EK and reads its certificate; without one it keeps ECC and has none', async () => {
    expect(await endorsementKeyChoice(certified)).toEqual({ algorithm: 'ecc', certificate: provisioned });
    expect(await endorsementKeyChoice(bare)).toEqual({ algorithm: 'ecc' });
    const keys = await ensureTpmKeys(certified);
    expect(keys).toMatchObject({ endorsementKeyAlgorithm: 'ecc', endorsementCertificate: provisioned });
  });

  it('registers and activates its AK at a gateway requiring EK certificates: the EK is recorded as the vendor CA\'s', async () => {
    const signer = await tpmDeviceKey(certified);
    const client = new GatewayClient(gw.url);
    const claim = { type: 'enroll' as const, deviceId: 'ek-nv-ecc', hardwareId: DEVICE_HARDWARE, publicKey: { algorithm: signer.algorithm, pem: signer.publicKeyPem } };
    await client.enroll(await gw.tokenFor('ek-nv-ecc'), await signEnrollClaimWith(claim, signer));
    const answer = await registerAttestationKey({ deviceId: 'ek-nv-ecc', tpm: { tcti: certified.tcti, pcr: 16 } }, client);
    expect(answer).toMatchObject({ status: 'active', ek: { trust: 'vendor-ca', caFingerprint: certificateFingerprint(vendor.pem) } });
    expect((await gw.fleet.getAttestationKey('ek-nv-ecc'))?.ek).toMatchObject({ trust: 'vendor-ca', certificate: provisioned.toString('base64') });
  });
});
