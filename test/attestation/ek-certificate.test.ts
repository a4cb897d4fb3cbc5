// The EK certificate judgement (attestation/ek-certificate.ts) over a real swtpm EK certificate
// (recorded from swtpm 0.7.1 with swtpm_localca: RSA 2048 EK, NV 0x01c00002, critical TPM SAN) and
// over certificates made here: issued by a configured vendor CA and for this EK; a self-made CA's;
// for another key; expired; malformed; and what the policy makes of a missing proof.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { judgeEndorsementKey, MAX_EK_CERTIFICATE_BYTES, type EkInput } from '../../attestation/ek-certificate.js';
import { certificateFingerprint } from '../../gateway/factory-identity.js';
import { issueEkCertificate, makeVendorCa, type VendorCa } from './ek-vendor.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'attestation', 'ek');
const fixture = (name: string) => readFileSync(join(FIXTURES, name));
const swtpm = {
  certificate: fixture('swtpm-rsa-ek.der'),
  ekPem: fixture('swtpm-rsa-ek.pem').toString(),
  issuer: fixture('swtpm-localca-issuer.pem').toString(),
  root: fixture('swtpm-localca-root.pem').toString(),
};
const vendor = (pem: string) => ({ fingerprint: certificateFingerprint(pem), certificatePem: pem });
const NOW = new Date('2027-06-01T00:00:00Z');
const judge = (input: Partial<EkInput>) => judgeEndorsementKey({ ekPem: swtpm.ekPem, vendorCas: [], requireCertificate: false, now: NOW, ...input });
const otherEcc = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('judgeEndorsementKey', () => {
  let ours: VendorCa;
  let rogue: VendorCa;
  beforeAll(async () => {
    ours = await makeVendorCa('Test TPM Vendor EK CA');
    rogue = await makeVendorCa('Test TPM Vendor EK CA'); // same name, another key: what an attacker can make
  });

  it("swtpm's EK certificate chains to swtpm's issuing CA and certifies this EK", async () => {
    const verdict = await judge({ certificateDer: swtpm.certificate, vendorCas: [vendor(swtpm.root), vendor(swtpm.issuer)] });
    expect(verdict).toEqual({ ok: true, trust: 'vendor-ca', caFingerprint: certificateFingerprint(swtpm.issuer), issuer: 'CN=swtpm-localca' });
  });

  it("only swtpm's root configured: the issuing CA is missing, so the EK is untrusted", async () => {
    expect(await judge({ certificateDer: swtpm.certificate, vendorCas: [vendor(swtpm.root)], requireCertificate: false })).toMatchObject({ ok: false, code: 'ATTESTATION_EK_UNTRUSTED' });
  });

  it('a genuine EK certificate presented with another EK (RSA or ECC) is a mismatch', async () => {
    for (const ekPem of [otherRsa, otherEcc]) {
      expect(await judge({ ekPem, certificateDer: swtpm.certificate, vendorCas: [vendor(swtpm.issuer)] })).toMatchObject({ ok: false, code: 'ATTESTATION_EK_MISMATCH' });
    }
    // Also when no vendor CA is configured: a certificate that is sent is always checked.
    expect(await judge({ ekPem: otherRsa, certificateDer: swtpm.certificate })).toMatchObject({ ok: false, code: 'ATTESTATION_EK_MISMATCH' });
  });

  it("a self-made EK certificate (an attacker's CA, even of the same name) is untrusted", async () => {
    const forged = await issueEkCertificate(rogue, otherEcc);
    const verdict = await judge({ ekPem: otherEcc, certificateDer: forged, vendorCas: [vendor(ours.pem), vendor(swtpm.issuer)], now: new Date() });
    expect(verdict).toMatchObject({ ok: false, code: 'ATTESTATION_EK_UNTRUSTED' });
    expect(!verdict.ok && verdict.detail).toMatch(/not issued by a TPM vendor CA this fleet trusts/);
  });

  it('an ECC EK certificate from a configured vendor CA is trusted', async () => {
    const der = await issueEkCertificate(ours, otherEcc);
    expect(await judge({ ekPem: otherEcc, certificateDer: der, vendorCas: [vendor(swtpm.issuer), vendor(ours.pem)], now: new Date() })).toMatchObject({ ok: true, trust: 'vendor-ca', caFingerprint: certificateFingerprint(ours.pem) });
  });

  it('a certificate signed by a key that is not a CA is not trusted, even when configured', async () => {
    const notCa = await makeVendorCa('Not A CA', { notCa: true });
    const der = await issueEkCertificate(notCa, otherEcc);
    expect(await judge({ ekPem: otherEcc, certificateDer: der, vendorCas: [vendor(notCa.pem)], now: new Date() })).toMatchObject({ ok: false, code: 'ATTESTATION_EK_UNTRUSTED' });
  });

  it('an expired EK certificate, or one from an expired vendor CA, is refused as expired unless a renewed CA is configured', async () => {
    const past = { notBefore: new Date('2020-01-01'), notAfter: new Date('2021-01-01') };
    const expiredEk = await issueEkCertificate(ours, otherEcc, past);
    expect(await judge({ ekPem: otherEcc, certificateDer: expiredEk, vendorCas: [vendor(ours.pem)], now: new Date() })).toMatchObject({ ok: false, code: 'ATTESTATION_EK_CERTIFICATE_EXPIRED' });
    const oldCa = await makeVendorCa('Old TPM Vendor', past);
    const der = await issueEkCertificate(oldCa, otherEcc);
    expect(await judge({ ekPem: otherEcc, certificateDer: der, vendorCas: [vendor(oldCa.pem)], now: new Date() })).toMatchObject({ ok: false, code: 'ATTESTATION_EK_CERTIFICATE_EXPIRED' });
    // The vendor renewed its CA (same name and key): with both configured the EK certificate is trusted.
    const renewed = await makeVendorCa('Old TPM Vendor', { keys: oldCa.keys });
    expect(await judge({ ekPem: otherEcc, certificateDer: der, vendorCas: [vendor(oldCa.pem), vendor(renewed.pem)], now: new Date() })).toMatchObject({ ok: true, caFingerprint: certificateFingerprint(renewed.pem) });
  });

  it('garbage, an oversized blob or a CA certificate as the EK certificate is malformed', async () => {
    expect(await judge({ certificateDer: Buffer.from('not a certificate') })).toMatchObject({ ok: false, code: 'ATTESTATION_EK_CERTIFICATE_MALFORMED' });
    expect(await judge({ certificateDer: Buffer.alloc(MAX_EK_CERTIFICATE_BYTES + 1, 0x30) })).toMatchObject({ ok: false, code: 'ATTESTATION_EK_CERTIFICATE_MALFORMED', detail: expect.stringMatching(/more than 4096/) });
    expect(await judge({ certificateDer: Buffer.from(ours.cert.rawData), vendorCas: [vendor(ours.pem)] })).toMatchObject({ ok: false, code: 'ATTESTATION_EK_CERTIFICATE_MALFORMED', detail: expect.stringMatching(/CA certificate/) });
  });

  it('policy: a missing proof is accepted unverified with why, or refused under requireEkCertificate', async () => {
    expect(await judge({})).toMatchObject({ ok: true, trust: 'unverified', warning: expect.stringMatching(/no EK certificate/) });
    expect(await judge({ vendorCas: [vendor(swtpm.issuer)] })).toMatchObject({ ok: true, trust: 'unverified' });
    expect(await judge({ requireCertificate: true, vendorCas: [vendor(swtpm.issuer)] })).toMatchObject({ ok: false, code: 'ATTESTATION_EK_CERTIFICATE_REQUIRED' });
    // A certificate but no vendor CA to check it against.
    expect(await judge({ certificateDer: swtpm.certificate })).toMatchObject({ ok: true, trust: 'unverified', warning: expect.stringMatching(/no TPM vendor CA is configured/) });
    expect(await judge({ certificateDer: swtpm.certificate, requireCertificate: true })).toMatchObject({ ok: false, code: 'ATTESTATION_EK_UNTRUSTED' });
  });
});
