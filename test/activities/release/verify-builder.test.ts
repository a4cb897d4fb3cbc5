// The verify-builder activity, called directly, with a keyless builder policy (a CI workflow
// identity pattern and issuer) against an offline mock Sigstore; plus the config errors of the policy.
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { ReleaseActivityDeps } from '../../../activities/release/activity-deps.js';
import { verifyBuilder } from '../../../activities/release/verify-builder.js';
import { ConfigError, loadConfig } from '../../../config/load-config.js';
import { produceBuilderEvidence } from '../../../release/builder-sign.js';
import type { ReleaseRequest } from '../../../release/types.js';
import { builderSigningModeFromConfig } from '../../../signing/from-config.js';
import { writeSigstoreTrustedRoot } from '../../../signing/trust-root.js';
import { fakeIdentityToken, startMockSigstore, type MockSigstore } from '../../support/signing-sigstore-mock.js';

const ISSUER = 'https://token.actions.githubusercontent.com';
const CI = 'https://github.com/acme/gateway-fw/.github/workflows/release.yml@refs/tags/v1.4.0';
const PATTERN = 'https://github\\.com/acme/gateway-fw/\\.github/workflows/release\\.yml@refs/tags/v[0-9.]+';
const RELEASE = { hardwareId: 'edge-gw-x1', version: '1.4.0', channel: 'stable' };
const PROVENANCE = { buildType: 'https://edge-ota.dev/slsa/buildtypes/firmware-release/v1', builderId: CI, externalParameters: {} };

let mock: MockSigstore;
let dir: string;
let image: string;

beforeAll(async () => {
  mock = await startMockSigstore({ name: 'builder' });
  dir = await mkdtemp(join(tmpdir(), 'verify-builder-'));
  image = join(dir, 'fw.bin');
  await writeFile(image, Buffer.alloc(256 * 1024 + 5, 0x5a));
  await writeSigstoreTrustedRoot(join(dir, 'trusted_root.json'), mock.trustRoot);
});
afterAll(async () => {
  mock?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function keylessConfig(extra: string[] = []) {
  return loadConfig({
    env: { OTA_STATE_DIR: dir },
    cwd: dir,
    overrides: [
      'builder.mode=keyless',
      `builder.issuer=${ISSUER}`,
      `builder.subjectPattern=${PATTERN}`,
      'builder.trustedRootPath=trusted_root.json',
      `signing.fulcioURL=${mock.fulcioURL}`,
      `signing.rekorURL=${mock.rekorURL}`,
      `signing.tsaURL=${mock.tsaURL}`,
      'signing.identityTokenEnv=CI_ID_TOKEN',
      ...extra,
    ],
  });
}

/** A request as the build job with this OIDC identity would send it. */
async function requestSignedBy(ctx: ReleaseActivityDeps, identity: string): Promise<ReleaseRequest> {
  const ref = await ctx.store.putBlob(createReadStream(image));
  const signer = await builderSigningModeFromConfig(ctx.config.builder, ctx.config.signing, { env: { CI_ID_TOKEN: fakeIdentityToken(identity, ISSUER) } });
  const builder = await produceBuilderEvidence(ctx.store, { path: image, sha256: ref.sha256, name: 'fw.bin' }, RELEASE, PROVENANCE, signer);
  return { ...RELEASE, image: { key: ref.key, sha256: ref.sha256, size: ref.size }, imageName: 'fw.bin', builder } as ReleaseRequest;
}

async function rejection(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

describe('verifyBuilder with a keyless CI identity', () => {
  it('accepts an image and provenance signed by a workflow identity matching the pattern', async () => {
    const ctx = new ReleaseActivityDeps(keylessConfig(), join(dir, 'work'));
    expect(await verifyBuilder(ctx, await requestSignedBy(ctx, CI))).toEqual({ signer: `${CI} (issuer ${ISSUER})` });
  });

  it('refuses another workflow of the same repository, naming the policy', async () => {
    const ctx = new ReleaseActivityDeps(keylessConfig(), join(dir, 'work'));
    const err = await rejection(verifyBuilder(ctx, await requestSignedBy(ctx, CI.replace('release.yml', 'pr.yml'))));
    expect(err).toMatchObject({ type: 'BuilderEvidenceRejected', nonRetryable: true });
    expect(err.details?.[0]).toEqual({ failure: 'invalid-image-signature' });
    expect(err.message).toContain(`does not verify under keyless builder identity matching /${PATTERN}/ from issuer ${ISSUER}: UNKNOWN_SIGNER_IDENTITY`);
  });

  it('refuses a key-signed image when the policy wants the CI identity', async () => {
    const ctx = new ReleaseActivityDeps(keylessConfig(), join(dir, 'work'));
    const ref = await ctx.store.putBlob(createReadStream(image));
    const keyConfig = loadConfig({ env: { OTA_STATE_DIR: dir }, cwd: dir });
    const builder = await produceBuilderEvidence(ctx.store, { path: image, sha256: ref.sha256, name: 'fw.bin' }, RELEASE, PROVENANCE, await builderSigningModeFromConfig(keyConfig.builder, keyConfig.signing));
    const err = await rejection(verifyBuilder(ctx, { ...RELEASE, image: { key: ref.key, sha256: ref.sha256, size: ref.size }, imageName: 'fw.bin', builder } as ReleaseRequest));
    expect(err.message).toContain('UNKNOWN_SIGNER_IDENTITY: bundle is signed with a bare key');
  });
});

describe('builder policy configuration', () => {
  it('defaults to a builder key of its own, not the release key', () => {
    const config = loadConfig({ env: { OTA_STATE_DIR: dir }, cwd: dir });
    expect(config.builder).toEqual({ mode: 'key', keyPath: join(dir, 'keys', 'builder-signing.pem') });
    expect(config.builder.keyPath).not.toBe(config.signing.keyPath);
  });

  it('names what a keyless policy lacks and refuses a bad pattern or unknown field', () => {
    const problems = (overrides: string[]) => {
      try {
        loadConfig({ env: { OTA_STATE_DIR: dir }, cwd: dir, overrides });
      } catch (err) {
        return (err as ConfigError).problems;
      }
      return [];
    };
    expect(problems(['builder.mode=keyless'])).toEqual([
      'builder.issuer: builder.mode keyless needs the OIDC issuer of the CI identity',
      'builder.subjectPattern: builder.mode keyless needs a subject pattern for the CI identity',
    ]);
    expect(problems([`builder.issuer=${ISSUER}`, 'builder.mode=keyless', 'builder.subjectPattern=(unclosed'])).toEqual([
      'builder.subjectPattern: must be a valid regular expression (got "(unclosed") [from flag --set]',
    ]);
    expect(problems(['builder.identity=x'])[0]).toMatch(/^builder.*identity/);
  });
});
