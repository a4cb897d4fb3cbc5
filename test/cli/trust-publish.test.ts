// Publishing and verifying against a TUF repository with the real `ota` binary and a real Temporal
// dev server: a publish adds its manifest as a target and never touches the trust root; a key the
// targets role does not list is refused before anything is uploaded; `ota verify` walks the root
// chain (rotated twice while this machine was pinned at root 1) and refuses a revoked signer's release.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { buildSampleImage } from '../../demo/sample-image.js';
import { generateSigningKeyPem, signingKeyFromPem } from '../../signing/keys.js';
import { tufPublicKey } from '../../trust/tuf-keys.js';
import { ensureDist } from '../support/dist.js';
import { otaIn, type OtaRun } from '../support/ota-cli.js';
import { startTemporal } from '../support/temporal.js';

const HW = 'edge-gw-tuf';

describe('ota release publish / ota verify with a TUF repository (CLI)', () => {
  let env: TestWorkflowEnvironment;
  let state: string;
  let skipReason: string | undefined;
  let ota: (args: string[]) => Promise<OtaRun>;

  beforeAll(async () => {
    skipReason = await ensureDist();
    if (skipReason) return;
    state = await mkdtemp(join(tmpdir(), 'ota-tuf-publish-'));
    buildSampleImage({ version: '1.0.0', out: join(state, 'fw-1.0.0.tar') });
    buildSampleImage({ version: '1.0.1', out: join(state, 'fw-1.0.1.tar') });
    let config;
    ({ env, config } = await startTemporal());
    ota = otaIn(state, { OTA_TEMPORAL_ADDRESS: config('tuf-cli').address, OTA_TASK_QUEUE: 'tuf-cli' });
  }, 120_000);
  afterAll(async () => {
    await env?.teardown();
    if (state) await rm(state, { recursive: true, force: true });
  });

  const publish = (version: string, ...extra: string[]) =>
    ota(['release', 'publish', '--image', join(state, `fw-${version}.tar`), '--version', version, '--hardware', HW, '--security-version', '1', '--delta-count', '0', '--json', ...extra]);
  const verify = (version: string) => ota(['verify', '--manifest', `store:releases/${HW}/${version}/manifest.json`, '--json']);
  const blobs = () => readdir(join(state, 'artifacts', 'blobs', 'sha256'), { recursive: true }).then((f) => f.length);

  it('publishes through the targets role, refuses an unlisted key before upload, and verifies across rotations', async (ctx) => {
    if (skipReason) return ctx.skip();
    expect((await ota(['trust', 'init', '--threshold', '2', '--root-key', 'r1.pem', 'r2.pem', 'r3.pem'])).code).toBe(0);

    const first = await publish('1.0.0');
    expect(first.stderr).toBe('');
    expect(JSON.parse(first.stdout)).toMatchObject({ version: '1.0.0', outcome: 'created' });
    // Publishing never changes the trust root: the release key is not pinned there.
    const pinned = await readFile(join(state, 'trust', 'trusted_root.json'), 'utf8').then((t) => Object.keys(JSON.parse(t).pinnedKeys ?? {}), () => []);
    expect(pinned).toEqual([]);
    const show = JSON.parse((await ota(['trust', 'show', '--json'])).stdout);
    // The worker listed it in the publish role with its own key: top-level targets (the targets key's) did not change.
    expect(show).toMatchObject({ targets: 1, roles: { targets: { version: 1 }, timestamp: { version: 2 } } });

    const ok = await verify('1.0.0');
    expect(ok.code).toBe(0);
    const report = JSON.parse(ok.stdout);
    expect(report.checks[0]).toMatchObject({ artifact: 'tuf', ok: true, detail: expect.stringContaining('root v1, timestamp v2, snapshot v2, targets v1, release-publish v2') });
    expect(report.checks.every((c: { ok: boolean }) => c.ok)).toBe(true);

    // A stranger's key: refused before the image is uploaded, naming its TUF key id.
    const strangerPem = generateSigningKeyPem();
    await writeFile(join(state, 'stranger.pem'), strangerPem, { mode: 0o600 });
    const blobsBefore = await blobs();
    const refused = await publish('1.0.1', '--key', 'stranger.pem');
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe(
      `ota: TUF_UNKNOWN_SIGNER: key ${tufPublicKey(signingKeyFromPem(strangerPem).publicKey).keyID} is not a release signer of targets version 1: add it with \`ota trust add-signer\``,
    );
    expect(await blobs()).toBe(blobsBefore);

    // Two root rotations, a new signer (CI) and the release key revoked, while this machine still pins root 1.
    expect((await ota(['trust', 'rotate-root', '--root-key', 'r1.pem', 'r2.pem', '--new-root-key', 'r4.pem', 'r5.pem'])).code).toBe(0);
    expect((await ota(['trust', 'rotate-root', '--root-key', 'r4.pem', 'r5.pem', '--new-root-key', 'r5.pem', 'r6.pem'])).code).toBe(0);
    await writeFile(join(state, 'ci.pem'), generateSigningKeyPem(), { mode: 0o600 });
    expect((await ota(['trust', 'add-signer', '--role', 'targets', '--key', 'ci.pem'])).code).toBe(0);
    expect((await ota(['trust', 'revoke-signer', '--role', 'targets', '--key', join('keys', 'release-signing.pub')])).code).toBe(0);

    const revoked = await verify('1.0.0');
    expect(revoked.code).toBe(1);
    expect(JSON.parse(revoked.stdout).checks).toEqual([{ artifact: 'tuf', ok: false, detail: expect.stringMatching(/^TUF_SIGNER_REVOKED: release signer [0-9a-f]{64} was revoked/) }]);
    // The chain was walked anyway: this machine now pins root 3.
    expect(JSON.parse(await readFile(join(state, 'trust', 'tuf', 'root.json'), 'utf8')).signed.version).toBe(3);

    const second = await publish('1.0.1', '--key', 'ci.pem');
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    const verified = await verify('1.0.1');
    expect(verified.code).toBe(0);
    expect(JSON.parse(verified.stdout).checks[0].detail).toContain('root v3');

    // A manifest file (no store path) is found among the targets by its sha256.
    const manifestPath = join(state, 'artifacts', 'releases', HW, '1.0.1', 'manifest.json');
    const fromFile = await ota(['verify', '--manifest', manifestPath, '--hardware', HW, '--channel', 'stable', '--installed-security-version', '1', '--json']);
    expect(fromFile.code).toBe(0);
    expect(JSON.parse(fromFile.stdout).checks[0].detail).toContain(`releases/${HW}/1.0.1/manifest.json signed by`);

    // A replaced manifest (not the target's bytes) is refused by TUF before its signature is looked at.
    const original = await readFile(manifestPath);
    await writeFile(manifestPath, Buffer.concat([original, Buffer.from(' ')]));
    const tampered = await verify('1.0.1');
    expect(JSON.parse(tampered.stdout).checks[0].detail).toMatch(/^TUF_TARGET_MISMATCH/);
    await writeFile(manifestPath, original);
  }, 600_000);
});
