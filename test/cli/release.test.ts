// The real `ota` binary against a real Temporal dev server: `ota release publish --json` (with
// its inline worker), `ota release list/show`, and `ota verify --json`, their JSON output and
// exit codes, on the embedded default layout under a temporary OTA_STATE_DIR.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { generateSigningKeyPem } from '../../signing/keys.js';
import { buildSampleImage } from '../../demo/sample-image.js';
import { parseManifest } from '../../schemas/manifest.js';
import { ensureDist, OTA_BIN } from '../support/dist.js';
import { startTemporal } from '../support/temporal.js';

const HW = 'edge-gw-cli';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('ota release publish / ota verify (CLI)', () => {
  let env: TestWorkflowEnvironment;
  let state: string;
  let dir: string;
  let address: string;
  let skipReason: string | undefined;

  function ota(args: string[]): Promise<Run> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [OTA_BIN, ...args],
        {
          cwd: state,
          // A clean environment: no CI variables leak into provenance, no config file is found.
          env: { PATH: process.env.PATH ?? '', HOME: state, OTA_STATE_DIR: state, OTA_TEMPORAL_ADDRESS: address, OTA_TASK_QUEUE: 'release-cli' },
          timeout: 120_000,
        },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  beforeAll(async () => {
    skipReason = await ensureDist();
    if (skipReason) {
      console.error(`\n*** SKIPPING CLI release tests: ${skipReason} ***\n`);
      return;
    }
    state = await mkdtemp(join(tmpdir(), 'ota-cli-state-'));
    dir = await mkdtemp(join(tmpdir(), 'ota-cli-images-'));
    buildSampleImage({ version: '1.0.0', out: join(dir, 'fw-1.0.0.tar') });
    buildSampleImage({ version: '1.0.1', out: join(dir, 'fw-1.0.1.tar') });
    buildSampleImage({ version: '1.0.1', patchSeed: 3, out: join(dir, 'fw-1.0.1-rebuilt.tar') });
    let config;
    ({ env, config } = await startTemporal());
    address = config('release-cli').address;
  });
  afterAll(async () => {
    await env?.teardown();
    for (const d of [state, dir]) if (d) await rm(d, { recursive: true, force: true });
  });

  it('publishes two releases, lists and shows them, and verifies (exit 0) or rejects a tampered one (exit 1)', async (ctx) => {
    if (skipReason) return ctx.skip();
    const t0 = Date.now();
    const first = await ota(['release', 'publish', '--image', join(dir, 'fw-1.0.0.tar'), '--version', '1.0.0', '--hardware', HW, '--security-version', '1', '--json']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ hardwareId: HW, version: '1.0.0', channel: 'stable', outcome: 'created', deltas: 0 });

    const second = await ota(['release', 'publish', '--image', join(dir, 'fw-1.0.1.tar'), '--version', '1.0.1', '--hardware', HW, '--json']);
    expect(second.code).toBe(0);
    const published = JSON.parse(second.stdout);
    expect(published).toMatchObject({ version: '1.0.1', outcome: 'created', deltas: 2, manifestKey: `releases/${HW}/1.0.1/manifest.json` });
    console.log(`CLI publish of two releases: ${Date.now() - t0} ms`);

    // The key was generated on first use (0600) with its public key beside it, and pinned.
    expect((await stat(join(state, 'keys', 'release-signing.pem'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(state, 'keys', 'release-signing.pub'), 'utf8')).toContain('BEGIN PUBLIC KEY');
    const root = JSON.parse(await readFile(join(state, 'trust', 'trusted_root.json'), 'utf8'));
    expect(Object.keys(root.pinnedKeys)).toHaveLength(1);

    const list = await ota(['release', 'list', '--hardware', HW, '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).map((r: { version: string; channel: string; securityVersion: number }) => [r.version, r.channel, r.securityVersion])).toEqual([
      ['1.0.1', 'stable', 1],
      ['1.0.0', 'stable', 1],
    ]);
    const show = await ota(['release', 'show', '1.0.1', '--hardware', HW, '--json']);
    expect(show.code).toBe(0);
    const manifestPath = join(state, 'artifacts', 'releases', HW, '1.0.1', 'manifest.json');
    const manifestBytes = await readFile(manifestPath);
    expect(JSON.parse(show.stdout)).toEqual(parseManifest(manifestBytes));
    expect(createHash('sha256').update(manifestBytes).digest('hex')).toBe(published.manifestSha256);

    const verify = await ota(['verify', '--manifest', `store:releases/${HW}/1.0.1/manifest.json`, '--json']);
    expect(verify.code).toBe(0);
    const report = JSON.parse(verify.stdout);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c: { artifact: string; ok: boolean }) => [c.artifact, c.ok])).toEqual([
      ['manifest', true],
      ['image', true],
      ['image signature', true],
      ['delta from 1.0.0', true],
      ['delta from 1.0.0', true],
      ['sbom', true],
      ['vex', true],
      ['openvex', true],
      ['provenance', true],
    ]);

    // The same from a manifest file with the bundle beside it, and with a local image copy.
    // A manifest file names no index: hardware, channel and the security floor are given (or skipped) explicitly.
    const fromFile = await ota(['verify', '--manifest', manifestPath, '--image', join(dir, 'fw-1.0.1.tar'), '--hardware', HW, '--channel', 'stable', '--installed-security-version', '1', '--json']);
    expect(fromFile.code).toBe(0);
    expect(JSON.parse(fromFile.stdout).ok).toBe(true);

    // Wrong device: exit 1 with the reason.
    const wrongHw = await ota(['verify', '--manifest', `store:releases/${HW}/1.0.1/manifest.json`, '--hardware', 'other-hw', '--json']);
    expect(wrongHw.code).toBe(1);
    expect(JSON.parse(wrongHw.stdout).checks[0].detail).toMatch(/^WRONG_HARDWARE: /);

    // Anti-rollback against the device's counter; the flags are refused without the device they describe.
    const store101 = `store:releases/${HW}/1.0.1/manifest.json`;
    const sec = await ota(['verify', '--manifest', store101, '--hardware', HW, '--installed-security-version', '2', '--json']);
    expect(sec.code).toBe(1);
    expect(JSON.parse(sec.stdout).checks[0].detail).toBe("SECURITY_VERSION_DOWNGRADE: release 1.0.1 has security version 1, below the device's 2");
    const older = await ota(['verify', '--manifest', store101, '--hardware', HW, '--installed-version', '1.1.0', '--json']);
    expect(older.code).toBe(1);
    expect(JSON.parse(older.stdout).checks[0].detail).toMatch(/^VERSION_DOWNGRADE: /);
    const sameDevice = await ota(['verify', '--manifest', store101, '--hardware', HW, '--installed-version', '1.0.0', '--installed-security-version', '1', '--json']);
    expect(sameDevice.code).toBe(0);
    const noHw = await ota(['verify', '--manifest', store101, '--any-hardware', '--installed-security-version', '2', '--json']);
    expect(noHw.code).toBe(1);
    expect(noHw.stderr).toBe('ota: --installed-version and --installed-security-version need a hardware id (the device they describe), not --any-hardware\n');
    const halfKeyless = await ota(['verify', '--manifest', store101, '--certificate-identity', 'https://github.com/acme/fw/.github/workflows/release.yml@refs/heads/main', '--json']);
    expect(halfKeyless.code).toBe(1);
    expect(halfKeyless.stderr).toBe('ota: keyless verification needs both --certificate-identity and --certificate-oidc-issuer\n');
    const nan = await ota(['verify', '--manifest', store101, '--hardware', HW, '--installed-security-version', 'two', '--json']);
    expect(nan.code).toBe(1);
    expect(nan.stderr).toContain('--installed-security-version: expected a non-negative integer, got "two"');

    // One byte of the SBOM changed in the store: exit 1, only the SBOM check fails.
    const m = parseManifest(manifestBytes);
    const sbomPath = join(state, 'artifacts', ...m.sbom.location.split('/'));
    const original = await readFile(sbomPath);
    const mode = (await stat(sbomPath)).mode & 0o777;
    const changed = Buffer.from(original);
    changed[10] = changed[10]! ^ 0x20;
    await chmod(sbomPath, 0o644);
    await writeFile(sbomPath, changed);
    try {
      const tampered = await ota(['verify', '--manifest', `store:releases/${HW}/1.0.1/manifest.json`, '--json']);
      expect(tampered.code).toBe(1);
      const bad = JSON.parse(tampered.stdout);
      expect(bad.ok).toBe(false);
      expect(bad.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { artifact: string }) => c.artifact)).toEqual(['sbom']);
      // Human output says REJECTED.
      const human = await ota(['verify', '--manifest', `store:releases/${HW}/1.0.1/manifest.json`]);
      expect(human.code).toBe(1);
      expect(human.stdout).toMatch(/FAIL sbom .*ARTIFACT_MISMATCH/);
      expect(human.stdout).toContain('release REJECTED');
    } finally {
      await writeFile(sbomPath, original);
      await chmod(sbomPath, mode);
    }

    // One byte of the manifest changed: exit 1, TAMPERED_MANIFEST.
    const flipped = Buffer.from(manifestBytes);
    flipped[20] = flipped[20]! ^ 0x01;
    const tamperedManifest = join(dir, 'manifest.json');
    await writeFile(tamperedManifest, flipped);
    await writeFile(`${tamperedManifest}.sigstore.json`, await readFile(`${manifestPath}.sigstore.json`));
    const tm = await ota(['verify', '--manifest', tamperedManifest, '--hardware', HW, '--channel', 'stable', '--installed-security-version', '1', '--json']);
    expect(tm.code).toBe(1);
    expect(JSON.parse(tm.stdout).checks[0].detail).toMatch(/^TAMPERED_MANIFEST: /);
  }, 180_000);

  it('ota verify checks hardware, channel and the security floor by default; each is skipped only by its flag', async (ctx) => {
    if (skipReason) return ctx.skip();
    const manifestPath = join(state, 'artifacts', 'releases', HW, '1.0.1', 'manifest.json');
    const bare = await ota(['verify', '--manifest', manifestPath, '--json']);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toBe('ota: the hardware check is on by default: pass --hardware <id> (or --any-hardware to skip it)\n');
    const noChannel = await ota(['verify', '--manifest', manifestPath, '--hardware', HW, '--json']);
    expect(noChannel.code).toBe(1);
    expect(noChannel.stderr).toBe('ota: the channel check is on by default and a manifest file names no index: pass --channel <name> (or --any-channel to skip it)\n');
    const noFloor = await ota(['verify', '--manifest', manifestPath, '--hardware', HW, '--channel', 'stable', '--json']);
    expect(noFloor.code).toBe(1);
    expect(noFloor.stderr).toBe('ota: the anti-rollback check is on by default: pass --installed-security-version <n> (or --allow-downgrade to skip it)\n');
    const skipped = await ota(['verify', '--manifest', manifestPath, '--any-hardware', '--any-channel', '--allow-downgrade', '--json']);
    expect(skipped.code).toBe(0);

    // Wrong channel: from a store key the default is the channel index listing the manifest (stable); --channel pins another.
    const wrongChannel = await ota(['verify', '--manifest', `store:releases/${HW}/1.0.1/manifest.json`, '--channel', 'beta', '--json']);
    expect(wrongChannel.code).toBe(1);
    expect(JSON.parse(wrongChannel.stdout).checks[0].detail).toBe('WRONG_CHANNEL: release 1.0.1 is on channel stable, this device follows beta');
    const fileWrongChannel = await ota(['verify', '--manifest', manifestPath, '--hardware', HW, '--channel', 'beta', '--allow-downgrade', '--json']);
    expect(fileWrongChannel.code).toBe(1);
    expect(JSON.parse(fileWrongChannel.stdout).checks[0].detail).toMatch(/^WRONG_CHANNEL: /);
    // The store-key defaults: the key's hardware; with --any-hardware the hardware is not checked.
    const anyHw = await ota(['verify', '--manifest', `store:releases/${HW}/1.0.1/manifest.json`, '--any-hardware', '--json']);
    expect(anyHw.code).toBe(0);
    // The default security floor from a store key is the channel's highest: 1.0.0 (security 1) passes it, as 1.0.1 does.
    const old100 = await ota(['verify', '--manifest', `store:releases/${HW}/1.0.0/manifest.json`, '--json']);
    expect(old100.code).toBe(0);
  }, 120_000);

  it('re-publishing is idempotent (exit 0, outcome existing); a different image for 1.0.1 exits 1 with the reason', async (ctx) => {
    if (skipReason) return ctx.skip();
    const again = await ota(['release', 'publish', '--image', join(dir, 'fw-1.0.1.tar'), '--version', '1.0.1', '--hardware', HW, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ version: '1.0.1', outcome: 'existing' });

    const other = await ota(['release', 'publish', '--image', join(dir, 'fw-1.0.1-rebuilt.tar'), '--version', '1.0.1', '--hardware', HW, '--json']);
    expect(other.code).toBe(1);
    expect(other.stdout).toBe('');
    expect(other.stderr).toMatch(/^ota: version 1\.0\.1 is already published with image sha256 [0-9a-f]{64}; this image is [0-9a-f]{64}\. Publish it under a new version\.\n$/);

    const bad = await ota(['release', 'publish', '--image', join(dir, 'missing.tar'), '--version', '1.0.2', '--hardware', HW, '--json']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${join(dir, 'missing.tar')}: no such file`);
  });

  it('--builder-key only chooses the signer: a key the builder policy does not list exits 1 and publishes nothing', async (ctx) => {
    if (skipReason) return ctx.skip();
    const stranger = join(dir, 'stranger.pem');
    await writeFile(stranger, generateSigningKeyPem(), { mode: 0o600 });
    const run = await ota(['release', 'publish', '--image', join(dir, 'fw-1.0.1-rebuilt.tar'), '--version', '1.0.3', '--hardware', HW, '--builder-key', stranger, '--json']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^ota: step verifyBuilder: builder evidence rejected: the builder signature over image sha256:[0-9a-f]{64} does not verify under builder key [0-9a-f]{64}: WRONG_KEY: /);
    const list = await ota(['release', 'list', '--hardware', HW, '--json']);
    expect((JSON.parse(list.stdout) as Array<{ version: string }>).map((r) => r.version)).not.toContain('1.0.3');
  });
});
