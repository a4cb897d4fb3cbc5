// The release workflow started straight on Temporal (no CLI) against a store with a TUF repository:
// the worker refuses a release key the targets role does not list, at the sign step, and publishes
// nothing; once the key is listed, the published manifest becomes a target and nothing is pinned.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { buildSampleImage } from '../../demo/sample-image.js';
import { loadOrCreateSigningKey } from '../../signing/keys.js';
import { signingKeyFile, trustKeyPaths } from '../../trust/key-files.js';
import { readRepository, writeRepository } from '../../trust/metadata-store.js';
import { addSigner, createRepository } from '../../trust/repository.js';
import { tufPublicKey, tufSigningKey } from '../../trust/tuf-keys.js';
import { HARDWARE, ReleaseHarness } from '../support/release-harness.js';
import { startTemporal } from '../support/temporal.js';

describe('release workflow with a TUF repository', () => {
  let env: TestWorkflowEnvironment;
  let h: ReleaseHarness;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ota-release-tuf-'));
    let config;
    ({ env, config } = await startTemporal());
    h = await ReleaseHarness.start(config('release-tuf').address, 'release-tuf');
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    await env?.teardown();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses an unlisted release key at the sign step, then publishes the manifest as a target once it is listed', async () => {
    const paths = trustKeyPaths(h.config.trust, h.config.signing.keyPath);
    const signing = async () => ({ targetsKeys: [await signingKeyFile(paths.targets)], onlineKey: await signingKeyFile(paths.online), now: new Date() });
    const someoneElse = tufSigningKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const rootKeys = [tufSigningKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey)];
    await writeRepository(h.store, createRepository({ rootKeys, threshold: 1, signers: [someoneElse], ...(await signing()) }));
    const releaseKey = tufPublicKey((await loadOrCreateSigningKey(h.config.signing.keyPath)).publicKey);

    const image = buildSampleImage({ version: '1.0.0', out: join(dir, 'fw-1.0.0.tar') }).path;
    const failure = await h.publishFailure({ image, version: '1.0.0', securityVersion: 1 });
    expect(failure).toContain(`TUF_UNKNOWN_SIGNER: key ${releaseKey.keyID} is not a release signer`);
    expect(failure).toMatch(/^step signImage/);
    expect(await h.store.head(`releases/${HARDWARE}/1.0.0/manifest.json`)).toBeUndefined();
    expect(await h.index()).toBeUndefined();
    const untouched = await readRepository(h.store);
    expect(untouched.repo.targets.signed.version).toBe(1);

    await writeRepository(h.store, addSigner(untouched.repo, releaseKey, await signing()), untouched);
    const published = await h.publish({ image, version: '1.0.0', securityVersion: 1 });
    expect(published.outcome).toBe('created');
    const { repo } = await readRepository(h.store);
    expect(repo.targets.signed.version).toBe(3);
    expect(repo.targets.signed.targets[published.manifestKey]).toMatchObject({
      length: (await h.manifestBytes('1.0.0')).length,
      hashes: { sha256: published.manifestSha256 },
    });
    expect(repo.targets.signed.targets[published.manifestKey]!.custom).toEqual({ signer: releaseKey.keyID });
    // Publishing never changed the trust root.
    expect(Object.keys((await h.trustRoot()).pinnedKeys ?? {})).toEqual([]);
  }, 600_000);
});
