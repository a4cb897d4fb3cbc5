// DSSE attestations (key mode) and SLSA v1 provenance: built from CI env, signed, verified by
// our module from a file or a streamed digest, and by cosign verify-blob-attestation.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { signStatement } from '../../signing/attest.js';
import { sha256Of } from '../../signing/blob-source.js';
import { BUNDLE_V03_MEDIA_TYPE, bundleToText } from '../../signing/bundle-json.js';
import { SignatureVerificationError, TamperedArtifactError, WrongKeyError } from '../../signing/errors.js';
import { IN_TOTO_PAYLOAD_TYPE, makeStatement, subjectFor } from '../../signing/in-toto.js';
import { loadOrCreateSigningKey, publicKeyPathFor, type SigningKey } from '../../signing/keys.js';
import {
  buildProvenanceStatement,
  GITHUB_WORKFLOW_BUILD_TYPE,
  provenanceInputsFromEnv,
  SLSA_PROVENANCE_V1,
  type SlsaProvenanceV1,
} from '../../signing/provenance.js';
import { addPinnedKey, emptyTrustRoot, type LocalTrustRootJSON } from '../../signing/trust-root.js';
import { verifyBundle } from '../../signing/verify.js';
import { cosign } from '../support/signing-cosign.js';

const githubEnv = {
  GITHUB_ACTIONS: 'true',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'acme/gateway-fw',
  GITHUB_REPOSITORY_ID: '4242',
  GITHUB_REPOSITORY_OWNER_ID: '77',
  GITHUB_SHA: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
  GITHUB_REF: 'refs/tags/v1.4.0',
  GITHUB_WORKFLOW_REF: 'acme/gateway-fw/.github/workflows/release.yml@refs/tags/v1.4.0',
  GITHUB_RUN_ID: '987654',
  GITHUB_RUN_ATTEMPT: '2',
  GITHUB_EVENT_NAME: 'push',
  RUNNER_ENVIRONMENT: 'github-hosted',
};

describe('SLSA provenance v1 builder', () => {
  it('fills buildDefinition and runDetails from GitHub Actions env', () => {
    const startedOn = new Date('2025-01-02T03:04:05Z');
    const inputs = provenanceInputsFromEnv({ startedOn }, githubEnv);
    const statement = buildProvenanceStatement([{ name: 'fw.bin', digest: { sha256: 'ab'.repeat(32) } }], inputs);
    expect(statement.predicateType).toBe(SLSA_PROVENANCE_V1);
    const p = statement.predicate as unknown as SlsaProvenanceV1;
    expect(p.buildDefinition.buildType).toBe(GITHUB_WORKFLOW_BUILD_TYPE);
    expect(p.buildDefinition.externalParameters).toEqual({
      workflow: { ref: 'refs/tags/v1.4.0', repository: 'https://github.com/acme/gateway-fw', path: '.github/workflows/release.yml' },
    });
    expect(p.buildDefinition.resolvedDependencies).toEqual([
      { uri: 'git+https://github.com/acme/gateway-fw@refs/tags/v1.4.0', digest: { gitCommit: githubEnv.GITHUB_SHA } },
    ]);
    expect(p.runDetails.builder.id).toBe('https://github.com/acme/gateway-fw/.github/workflows/release.yml@refs/tags/v1.4.0');
    expect(p.runDetails.metadata?.invocationId).toBe('https://github.com/acme/gateway-fw/actions/runs/987654/attempts/2');
    expect(p.runDetails.metadata?.startedOn).toBe('2025-01-02T03:04:05.000Z');
    expect(p.runDetails.metadata?.finishedOn).toBeDefined();
  });

  it('reads GitLab CI env', () => {
    const inputs = provenanceInputsFromEnv({}, {
      GITLAB_CI: 'true',
      CI_SERVER_URL: 'https://gitlab.example.com',
      CI_PROJECT_URL: 'https://gitlab.example.com/iot/fw',
      CI_COMMIT_SHA: 'deadbeef'.repeat(5),
      CI_COMMIT_REF_NAME: 'main',
      CI_JOB_ID: '31337',
      CI_JOB_URL: 'https://gitlab.example.com/iot/fw/-/jobs/31337',
      CI_RUNNER_ID: '12',
    });
    expect(inputs.source).toEqual({ uri: 'git+https://gitlab.example.com/iot/fw@refs/heads/main', revision: 'deadbeef'.repeat(5) });
    expect(inputs.invocationId).toBe('https://gitlab.example.com/iot/fw/-/jobs/31337');
    expect(inputs.builderId).toBe('https://gitlab.example.com/-/runners/12');
  });

  it('lets explicit inputs override CI env and refuses a missing builder id', () => {
    const inputs = provenanceInputsFromEnv({ builderId: 'https://builders.acme.example/airgap-1', externalParameters: { target: 'stm32' } }, githubEnv);
    expect(inputs.builderId).toBe('https://builders.acme.example/airgap-1');
    expect(inputs.externalParameters).toEqual({ target: 'stm32' });
    expect(() => buildProvenanceStatement([{ digest: { sha256: '00' } }], provenanceInputsFromEnv({}, {}))).toThrow(/builderId/);
  });
});

describe('DSSE attestation (key mode)', () => {
  let dir: string;
  let key: SigningKey;
  let root: LocalTrustRootJSON;
  let firmware: string;
  let bundlePath: string;
  let bundleText: string;
  const policy = () => ({ mode: 'key' as const, allowedKeyHints: [key.hint] });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'signing-attest-'));
    key = await loadOrCreateSigningKey(join(dir, 'release.key'));
    root = addPinnedKey(emptyTrustRoot(), key.publicKey).root;
    firmware = join(dir, 'fw.bin');
    await writeFile(firmware, Buffer.alloc(2 * 1024 * 1024, 0x3c));
    const statement = buildProvenanceStatement([await subjectFor('fw.bin', { path: firmware })], provenanceInputsFromEnv({}, githubEnv));
    const bundle = await signStatement(statement, { mode: 'key', key });
    bundleText = bundleToText(bundle);
    bundlePath = join(dir, 'fw.bin.intoto.sigstore.json');
    await writeFile(bundlePath, bundleText);
  });

  it('produces a v0.3 DSSE bundle with the in-toto payload type', () => {
    const json = JSON.parse(bundleText);
    expect(json.mediaType).toBe(BUNDLE_V03_MEDIA_TYPE);
    expect(json.dsseEnvelope.payloadType).toBe(IN_TOTO_PAYLOAD_TYPE);
    expect(json.verificationMaterial.publicKey.hint).toBe(key.hint);
  });

  it('verifies against the file and against a streamed digest', async () => {
    const fromFile = await verifyBundle({ bundle: bundleText, artifact: { path: firmware }, trustRoot: root, policy: policy(), predicateType: SLSA_PROVENANCE_V1 });
    expect(fromFile.kind).toBe('dsseEnvelope');
    expect(fromFile.statement?.predicateType).toBe(SLSA_PROVENANCE_V1);
    const digest = (await sha256Of({ path: firmware })).toString('hex');
    const fromDigest = await verifyBundle({ bundle: bundleText, artifact: { sha256: digest }, trustRoot: root, policy: policy() });
    expect(fromDigest.artifactSha256).toBe(digest);
  });

  it('rejects an artifact that is not the subject', async () => {
    await expect(verifyBundle({ bundle: bundleText, artifact: { bytes: Buffer.from('other image') }, trustRoot: root, policy: policy() })).rejects.toBeInstanceOf(TamperedArtifactError);
  });

  it('rejects an altered payload and the wrong predicate type', async () => {
    const json = JSON.parse(bundleText);
    const statement = JSON.parse(Buffer.from(json.dsseEnvelope.payload, 'base64').toString());
    statement.subject[0].digest.sha256 = 'ff'.repeat(32);
    json.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
    await expect(verifyBundle({ bundle: json, artifact: { sha256: 'ff'.repeat(32) }, trustRoot: root, policy: policy() })).rejects.toBeInstanceOf(WrongKeyError);
    await expect(
      verifyBundle({ bundle: bundleText, artifact: { path: firmware }, trustRoot: root, policy: policy(), predicateType: 'https://cyclonedx.org/bom' }),
    ).rejects.toBeInstanceOf(SignatureVerificationError);
  });

  it('rejects an attestation signed by another key', async () => {
    const other = await loadOrCreateSigningKey(join(dir, 'other.key'));
    const bundle = await signStatement(makeStatement([await subjectFor('fw.bin', { path: firmware })], 'https://edge-ota.dev/attestations/release/v1', {}), { mode: 'key', key: other });
    await expect(verifyBundle({ bundle: bundleToText(bundle), artifact: { path: firmware }, trustRoot: root, policy: policy() })).rejects.toBeInstanceOf(WrongKeyError);
  });

  it('cosign verify-blob-attestation accepts it as slsaprovenance1', async () => {
    const result = await cosign([
      'verify-blob-attestation', '--key', publicKeyPathFor(join(dir, 'release.key')), '--bundle', bundlePath,
      '--type', 'slsaprovenance1', '--insecure-ignore-tlog', firmware,
    ]);
    expect(result.stderr).toContain('Verified OK');
    expect(result.ok).toBe(true);
  });

  it('cosign verify-blob-attestation accepts a custom predicate and checks the subject', async () => {
    const custom = await signStatement(
      makeStatement([await subjectFor('fw.bin', { path: firmware })], 'https://edge-ota.dev/attestations/release/v1', { channel: 'stable' }),
      { mode: 'key', key },
    );
    const customPath = join(dir, 'custom.sigstore.json');
    await writeFile(customPath, bundleToText(custom));
    const pub = publicKeyPathFor(join(dir, 'release.key'));
    const ok = await cosign(['verify-blob-attestation', '--key', pub, '--bundle', customPath, '--type', 'https://edge-ota.dev/attestations/release/v1', '--insecure-ignore-tlog', firmware]);
    expect(ok.stderr).toContain('Verified OK');
    const otherFile = join(dir, 'not-fw.bin');
    await writeFile(otherFile, await readFile(firmware).then((b) => Buffer.concat([b, Buffer.from([1])])));
    const bad = await cosign(['verify-blob-attestation', '--key', pub, '--bundle', customPath, '--type', 'https://edge-ota.dev/attestations/release/v1', '--insecure-ignore-tlog', otherFile]);
    expect(bad.ok).toBe(false);
  });
});
