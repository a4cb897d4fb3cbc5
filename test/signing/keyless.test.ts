// Keyless signing against an offline mock Sigstore (Fulcio, CT log, Rekor, TSA via nock):
// sign blobs and attestations, verify with our module under an identity policy, and with cosign
// against the pinned trusted_root.json.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signStatement } from '../../signing/attest.js';
import { BUNDLE_V03_MEDIA_TYPE, bundleToText } from '../../signing/bundle-json.js';
import { CertificateExpiredError, MissingTimestampError, UnknownSignerIdentityError, TamperedArtifactError } from '../../signing/errors.js';
import { identityTokenFromEnv, type KeylessOptions } from '../../signing/keyless.js';
import { signBlob } from '../../signing/message-signature.js';
import { buildProvenanceStatement, provenanceInputsFromEnv, SLSA_PROVENANCE_V1 } from '../../signing/provenance.js';
import { subjectFor } from '../../signing/in-toto.js';
import { writeSigstoreTrustedRoot } from '../../signing/trust-root.js';
import { verifyBundle, type SignerPolicy } from '../../signing/verify.js';
import { cosign } from '../support/signing-cosign.js';
import { fakeIdentityToken, startMockSigstore, type MockSigstore } from '../support/signing-sigstore-mock.js';

const IDENTITY = 'https://github.com/acme/gateway-fw/.github/workflows/release.yml@refs/tags/v1.4.0';
const ISSUER = 'https://token.actions.githubusercontent.com';

let mock: MockSigstore;
let dir: string;
let firmware: string;
let rootPath: string;
let keyless: KeylessOptions;
const policy: SignerPolicy = { mode: 'keyless', certificateIdentity: IDENTITY, certificateIssuer: ISSUER };

beforeAll(async () => {
  mock = await startMockSigstore();
  dir = await mkdtemp(join(tmpdir(), 'signing-keyless-'));
  firmware = join(dir, 'fw.bin');
  await writeFile(firmware, Buffer.alloc(1024 * 1024 + 3, 0x7e));
  rootPath = join(dir, 'trusted_root.json');
  await writeSigstoreTrustedRoot(rootPath, mock.trustRoot);
  const env = { CI_ID_TOKEN: fakeIdentityToken(IDENTITY, ISSUER) };
  keyless = { fulcioURL: mock.fulcioURL, rekorURL: mock.rekorURL, tsaURL: mock.tsaURL, identityProvider: identityTokenFromEnv('CI_ID_TOKEN', env) };
});

afterAll(() => mock?.stop());

describe('keyless message signature', () => {
  let bundleText: string;
  let bundlePath: string;

  beforeAll(async () => {
    bundleText = bundleToText(await signBlob({ path: firmware }, { mode: 'keyless', ...keyless }));
    bundlePath = join(dir, 'fw.bin.sigstore.json');
    await writeFile(bundlePath, bundleText);
  });

  it('is a v0.3 bundle with a single leaf certificate, a Rekor entry and a TSA timestamp', () => {
    const json = JSON.parse(bundleText);
    expect(json.mediaType).toBe(BUNDLE_V03_MEDIA_TYPE);
    expect(json.verificationMaterial.certificate.rawBytes).toBeTruthy();
    expect(json.verificationMaterial.x509CertificateChain).toBeUndefined();
    expect(json.verificationMaterial.tlogEntries).toHaveLength(1);
    expect(json.verificationMaterial.timestampVerificationData.rfc3161Timestamps).toHaveLength(1);
  });

  it('verifies with the identity policy', async () => {
    const result = await verifyBundle({ bundle: bundleText, artifact: { path: firmware }, trustRoot: mock.trustRoot, policy });
    expect(result.signer).toEqual({ mode: 'keyless', identity: IDENTITY, issuer: ISSUER });
  });

  it('rejects another identity, a prefix of the identity and another issuer', async () => {
    const cases: SignerPolicy[] = [
      { ...policy, certificateIdentity: 'https://github.com/evil/fw/.github/workflows/release.yml@refs/heads/main' },
      { ...policy, certificateIdentity: IDENTITY.slice(0, -3) },
      { ...policy, certificateIssuer: 'https://accounts.google.com' },
    ];
    for (const p of cases) {
      await expect(verifyBundle({ bundle: bundleText, artifact: { path: firmware }, trustRoot: mock.trustRoot, policy: p })).rejects.toBeInstanceOf(UnknownSignerIdentityError);
    }
  });

  it('rejects a tampered artifact', async () => {
    await expect(verifyBundle({ bundle: bundleText, artifact: { bytes: Buffer.from('not the firmware') }, trustRoot: mock.trustRoot, policy })).rejects.toBeInstanceOf(TamperedArtifactError);
  });

  it('rejects a bundle stripped of its timestamps', async () => {
    const json = JSON.parse(bundleText);
    json.verificationMaterial.tlogEntries = [];
    json.verificationMaterial.timestampVerificationData = {};
    await expect(verifyBundle({ bundle: json, artifact: { path: firmware }, trustRoot: mock.trustRoot, policy })).rejects.toBeInstanceOf(MissingTimestampError);
  });

  it('cosign verify-blob accepts it with the pinned trusted root', async () => {
    const result = await cosign(['verify-blob', '--bundle', bundlePath, '--trusted-root', rootPath, '--certificate-identity', IDENTITY, '--certificate-oidc-issuer', ISSUER, firmware]);
    expect(result.stderr).toContain('Verified OK');
    expect(result.ok).toBe(true);
  });

  it('a TSA-only bundle (no Rekor entry) verifies with tlogThreshold 0, and with cosign --use-signed-timestamps', async () => {
    const json = JSON.parse(bundleText);
    json.verificationMaterial.tlogEntries = [];
    await expect(verifyBundle({ bundle: json, artifact: { path: firmware }, trustRoot: mock.trustRoot, policy })).rejects.toThrow(/tlog/);
    const result = await verifyBundle({ bundle: json, artifact: { path: firmware }, trustRoot: mock.trustRoot, policy: { ...policy, tlogThreshold: 0 } });
    expect(result.signer).toMatchObject({ identity: IDENTITY });
    const tsaOnlyPath = join(dir, 'fw.bin.tsa-only.sigstore.json');
    await writeFile(tsaOnlyPath, JSON.stringify(json));
    const args = ['verify-blob', '--bundle', tsaOnlyPath, '--trusted-root', rootPath, '--certificate-identity', IDENTITY, '--certificate-oidc-issuer', ISSUER];
    expect((await cosign([...args, firmware])).ok).toBe(false);
    const verified = await cosign([...args, '--use-signed-timestamps', '--insecure-ignore-tlog', firmware]);
    expect(verified.stderr).toContain('Verified OK');
  });

  it('cosign verify-blob rejects the wrong identity', async () => {
    const result = await cosign(['verify-blob', '--bundle', bundlePath, '--trusted-root', rootPath, '--certificate-identity', 'https://github.com/evil/fw/.github/workflows/x.yml@refs/heads/main', '--certificate-oidc-issuer', ISSUER, firmware]);
    expect(result.ok).toBe(false);
  });
});

describe('keyless attestation', () => {
  it('signs SLSA provenance and verifies it from a digest, and with cosign', async () => {
    const subject = await subjectFor('fw.bin', { path: firmware });
    const statement = buildProvenanceStatement([subject], provenanceInputsFromEnv({ builderId: IDENTITY, externalParameters: { target: 'stm32mp1' } }, {}));
    const bundle = await signStatement(statement, { mode: 'keyless', ...keyless });
    const bundleText = bundleToText(bundle);
    const json = JSON.parse(bundleText);
    expect(json.mediaType).toBe(BUNDLE_V03_MEDIA_TYPE);
    expect(json.verificationMaterial.tlogEntries[0].kindVersion.kind).toBe('dsse');
    const result = await verifyBundle({ bundle: bundleText, artifact: { sha256: subject.digest.sha256! }, trustRoot: mock.trustRoot, policy, predicateType: SLSA_PROVENANCE_V1 });
    expect(result.statement?.subject[0]?.name).toBe('fw.bin');
    const bundlePath = join(dir, 'fw.bin.provenance.sigstore.json');
    await writeFile(bundlePath, bundleText);
    const verified = await cosign([
      'verify-blob-attestation', '--bundle', bundlePath, '--trusted-root', rootPath, '--type', 'slsaprovenance1',
      '--certificate-identity', IDENTITY, '--certificate-oidc-issuer', ISSUER, firmware,
    ]);
    expect(verified.stderr).toContain('Verified OK');
  });
});

describe('keyless failure modes', () => {
  it('fails clearly without an identity token', async () => {
    const noToken = { ...keyless, identityProvider: identityTokenFromEnv('CI_ID_TOKEN', {}) };
    await expect(signBlob({ path: firmware }, { mode: 'keyless', ...noToken })).rejects.toThrow(/CI_ID_TOKEN/);
  });
});

describe('expired certificate', () => {
  let old: MockSigstore;
  afterAll(() => old?.stop());

  it('is rejected when the only timestamps are after expiry, or there are none', async () => {
    old = await startMockSigstore({ name: 'backdated', caClock: new Date(Date.now() - 3600_000) });
    const env = { T: fakeIdentityToken(IDENTITY, ISSUER) };
    // Rekor only (its integrated time is now, after the backdated certificate expired).
    const bundle = await signBlob({ path: firmware }, { mode: 'keyless', fulcioURL: old.fulcioURL, rekorURL: old.rekorURL, identityProvider: identityTokenFromEnv('T', env) });
    const json = JSON.parse(bundleToText(bundle));
    await expect(verifyBundle({ bundle: json, artifact: { path: firmware }, trustRoot: old.trustRoot, policy })).rejects.toBeInstanceOf(CertificateExpiredError);
    json.verificationMaterial.tlogEntries = [];
    await expect(verifyBundle({ bundle: json, artifact: { path: firmware }, trustRoot: old.trustRoot, policy: { ...policy, tlogThreshold: 0 } })).rejects.toBeInstanceOf(CertificateExpiredError);
  });
});
