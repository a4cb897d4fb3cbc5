// Issue 4 end to end on the local-directory store: the real release workflow on a real Temporal
// dev server publishes two releases of a realistic tar rootfs image (the second with a bsdiff
// delta from the first), the shared verification module accepts them, and a one-byte change to
// any artifact or to the manifest is rejected by the check that owns it. Interop with cosign and
// Debian's bspatch; idempotent re-publish and every refusal the issue lists.
import { execFile } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { buildSampleImage } from '../../demo/sample-image.js';
import { createActivities } from '../../activities/index.js';
import { manifestBundleKey, manifestKey, releaseIndexKey } from '../../release/layout.js';
import { startRelease } from '../../temporal/release-client.js';
import { canonicalReleaseIndexBytes, parseManifest, type Manifest } from '../../schemas/manifest.js';
import { publicKeyPathFor } from '../../signing/keys.js';
import { addPinnedKey, emptyTrustRoot } from '../../signing/trust-root.js';
import { checkDeltaBase } from '../../verification/manifest-checks.js';
import { applyOpsDelta } from '../../deltas/ops/index.js';
import { findTool } from '../../platform/tools.js';
import { cosign } from '../support/signing-cosign.js';
import { startTemporal } from '../support/temporal.js';
import { failedChecks, HARDWARE, ReleaseHarness } from '../support/release-harness.js';

const run = promisify(execFile);
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('release pipeline on Temporal + local store', () => {
  let env: TestWorkflowEnvironment;
  let h: ReleaseHarness;
  let dir: string;
  let image100: string;
  let image101: string;
  let image101other: string;
  let storeDir: string;
  let m100: Manifest;
  let m101: Manifest;

  /** Where a store key lives on disk (the local store maps keys to paths one to one). */
  const onDisk = (key: string) => join(storeDir, ...key.split('/'));

  /** Flips one byte of a stored object, runs fn, and puts the original bytes back. */
  async function withTampered<T>(key: string, fn: () => Promise<T>, mutate?: (b: Buffer) => Buffer): Promise<T> {
    const path = onDisk(key);
    const original = await readFile(path);
    const mode = (await stat(path)).mode & 0o777;
    const changed = mutate
      ? mutate(Buffer.from(original))
      : (() => {
          const b = Buffer.from(original);
          const at = Math.floor(b.length / 2);
          b[at] = b[at]! ^ 0x01;
          return b;
        })();
    await chmod(path, 0o644);
    await writeFile(path, changed);
    try {
      return await fn();
    } finally {
      await writeFile(path, original);
      await chmod(path, mode);
    }
  }

  beforeAll(async () => {
    const t0 = Date.now();
    dir = await mkdtemp(join(tmpdir(), 'ota-release-images-'));
    image100 = buildSampleImage({ version: '1.0.0', out: join(dir, 'edge-1.0.0.tar') }).path;
    image101 = buildSampleImage({ version: '1.0.1', out: join(dir, 'edge-1.0.1.tar') }).path;
    image101other = buildSampleImage({ version: '1.0.1', patchSeed: 7, out: join(dir, 'edge-1.0.1-other.tar') }).path;
    let config;
    ({ env, config } = await startTemporal());
    h = await ReleaseHarness.start(config('release-local').address, 'release-local');
    storeDir = (h.config.store as { dir: string }).dir;
    console.log(`setup: images + Temporal + worker in ${Date.now() - t0} ms`);
  });
  afterAll(async () => {
    await h?.close();
    await env?.teardown();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('publishes 1.0.0, then 1.0.1 with a bsdiff and an ops delta from 1.0.0 and VEX statements', async () => {
    const t0 = Date.now();
    const first = await h.publish({ image: image100, version: '1.0.0', securityVersion: 1 });
    expect(first).toMatchObject({ hardwareId: HARDWARE, version: '1.0.0', channel: 'stable', outcome: 'created', deltas: 0, skippedDeltas: 0 });
    expect(first.manifestKey).toBe(manifestKey(HARDWARE, '1.0.0'));
    m100 = parseManifest(await h.manifestBytes('1.0.0'));
    expect(first.manifestSha256).toBe(sha256(await h.manifestBytes('1.0.0')));
    const t1 = Date.now();

    // A VEX statement about a component the SBOM really lists (found in the 1.0.0 SBOM).
    const sbom = JSON.parse((await h.store.getBytes(m100.sbom.location)).toString('utf8')) as { components: { name: string; purl?: string }[] };
    const openssl = sbom.components.find((c) => c.name === 'openssl' && c.purl?.startsWith('pkg:deb/'));
    expect(openssl?.purl).toBeDefined();
    const vexFile = join(dir, 'vex.yaml');
    await writeFile(
      vexFile,
      `- vulnerability: CVE-2024-5535\n  purl: "${openssl!.purl}"\n  state: not_affected\n  justification: code_not_reachable\n  detail: SSL_select_next_proto is never called\n`,
    );

    const second = await h.publish({ image: image101, version: '1.0.1', securityVersion: 2, vex: vexFile });
    expect(second).toMatchObject({ version: '1.0.1', outcome: 'created', deltas: 2, skippedDeltas: 0 });
    console.log(`publish 1.0.0 ${t1 - t0} ms, 1.0.1 (with delta) ${Date.now() - t1} ms`);

    m101 = parseManifest(await h.manifestBytes('1.0.1'));
    const raw101 = await readFile(image101);
    expect(m101).toMatchObject({ hardwareId: HARDWARE, version: '1.0.1', securityVersion: 2, channel: 'stable' });
    expect(m101.image).toMatchObject({ sha256: sha256(raw101), length: raw101.length, compression: 'gzip' });
    expect(Date.parse(m101.expires) - Date.parse(m101.created)).toBe(30 * 86_400_000);
    // Both formats from the one base, each its own entry: bsdiff for bspatch-only tools, ops for devices.
    expect(m101.deltas.map((d) => d.format)).toEqual(['bsdiff', 'ops']);
    if (m101.image.compression !== 'gzip') throw new Error('expected a gzip image');
    for (const delta of m101.deltas) {
      expect(delta).toMatchObject({ fromVersion: '1.0.0', fromSha256: m100.image.sha256, toSha256: m101.image.sha256, compression: 'none' });
      expect(delta.length).toBeLessThan(m101.image.compressedLength * 0.9);
    }
    const [bsdiffDelta, opsDelta] = m101.deltas;
    console.log(`deltas 1.0.0 -> 1.0.1: bsdiff ${bsdiffDelta!.length} bytes, ops ${opsDelta!.length} bytes; compressed image ${m101.image.compressedLength} bytes`);

    // The VEX documents carry the statement and point into this release's SBOM.
    const vex = JSON.parse((await h.store.getBytes(m101.vex.location)).toString('utf8'));
    expect(JSON.stringify(vex)).toContain('CVE-2024-5535');
    expect(JSON.stringify(vex)).toContain('urn:cdx:');
    const openvex = JSON.parse((await h.store.getBytes(m101.openvex.location)).toString('utf8'));
    expect(openvex.statements).toHaveLength(1);
    expect(openvex.statements[0].status).toBe('not_affected');

    const index = await h.index();
    expect(index?.releases.map((r) => [r.version, r.securityVersion])).toEqual([
      ['1.0.0', 1],
      ['1.0.1', 2],
    ]);
    expect(index?.releases[1]?.manifest).toEqual({ location: manifestKey(HARDWARE, '1.0.1'), sha256: second.manifestSha256 });
  });

  it('verifies both releases offline, every artifact by digest and signature', async () => {
    for (const version of ['1.0.0', '1.0.1']) {
      const report = await h.verify(version);
      expect(failedChecks(report)).toEqual([]);
      expect(report.ok).toBe(true);
    }
    const report = await h.verify('1.0.1');
    expect(report.checks.map((c) => c.artifact)).toEqual(['manifest', 'image', 'image signature', 'delta from 1.0.0', 'delta from 1.0.0', 'sbom', 'vex', 'openvex', 'provenance']);
    expect(report.checks.filter((c) => c.artifact === 'delta from 1.0.0').map((c) => c.detail?.split(',')[0])).toEqual(['bsdiff', 'ops']);
    expect(report.checks.find((c) => c.artifact === 'provenance')?.detail).toContain('https://edge-ota.dev/builders/test');
    // With the raw image from the build instead of the stored copy.
    expect((await h.verify('1.0.1', { imagePath: image101 })).ok).toBe(true);
  });

  it('rejects a one-byte change to each artifact with the check that owns it', async () => {
    const targets: [string, string, string[]][] = [
      ['compressed image', m101.image.location, ['image', 'image signature']],
      [`bsdiff delta`, m101.deltas[0]!.location, ['delta from 1.0.0']],
      [`ops delta`, m101.deltas[1]!.location, ['delta from 1.0.0']],
      ['sbom', m101.sbom.location, ['sbom']],
      ['vex', m101.vex.location, ['vex']],
      ['openvex', m101.openvex.location, ['openvex']],
      ['provenance bundle', m101.provenance.location, ['provenance']],
      ['image signature bundle', m101.imageSignatureBundle.location, ['image signature']],
    ];
    for (const [name, key, failing] of targets) {
      const report = await withTampered(key, () => h.verify('1.0.1'));
      expect(report.ok, name).toBe(false);
      expect(report.checks.filter((c) => !c.ok).map((c) => c.artifact), name).toEqual(failing);
      const owner = report.checks.find((c) => !c.ok && c.artifact === failing[0])!;
      expect(owner.detail, name).toMatch(/^ARTIFACT_MISMATCH: .*sha256 [0-9a-f]{64} differs from the manifest's/);
    }
    // Restored: verifies again.
    expect((await h.verify('1.0.1')).ok).toBe(true);
  });

  it('rejects a truncated artifact, naming the length the manifest pins', async () => {
    const key = m101.deltas[0]!.location;
    const report = await withTampered(key, () => h.verify('1.0.1'), (b) => b.subarray(0, b.length - 100));
    expect(failedChecks(report)).toEqual([`delta from 1.0.0: ARTIFACT_MISMATCH: delta from 1.0.0: ${m101.deltas[0]!.length - 100} bytes, the manifest pins ${m101.deltas[0]!.length} (truncated?)`]);
  });

  it('rejects a one-byte change to the manifest (in the store and in memory) as tampered', async () => {
    const key = manifestKey(HARDWARE, '1.0.1');
    const report = await withTampered(key, () => h.verify('1.0.1'));
    expect(report.ok).toBe(false);
    expect(report.checks).toHaveLength(1);
    expect(report.checks[0]!.detail).toMatch(/^TAMPERED_MANIFEST: /);

    // A meaningful edit: a lower security version, same length.
    const bytes = await h.manifestBytes('1.0.1');
    const edited = Buffer.from(bytes.toString('utf8').replace('"securityVersion":2', '"securityVersion":1'));
    expect(edited.equals(bytes)).toBe(false);
    const edit = await h.verify('1.0.1', { manifestBytes: edited });
    expect(edit.checks[0]!.detail).toMatch(/^TAMPERED_MANIFEST: /);

    // The manifest of 1.0.0 under the bundle of 1.0.1: signature does not match.
    const swapped = await h.verify('1.0.1', { manifestBytes: await h.manifestBytes('1.0.0') });
    expect(swapped.checks[0]!.detail).toMatch(/^TAMPERED_MANIFEST: /);
  });

  it('rejects a wrong signer, an expired manifest, wrong hardware and downgrades, each with its own code', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const strangerRoot = addPinnedKey(emptyTrustRoot(), other.publicKey, { validFrom: new Date(Date.now() - 60_000) }).root;
    const wrongSigner = await h.verify('1.0.1', { trustRoot: strangerRoot });
    expect(wrongSigner.checks[0]!.detail).toMatch(/^WRONG_SIGNER: manifest is not signed by a trusted signer: signing key [0-9a-f]{64} is not pinned/);

    const expired = await h.verify('1.0.1', { now: new Date(Date.parse(m101.expires) + 1000) });
    expect(expired.checks[0]!.detail).toBe(`EXPIRED_MANIFEST: manifest for ${HARDWARE} 1.0.1 expired at ${m101.expires}`);
    expect((await h.verify('1.0.1', { now: new Date(Date.parse(m101.expires) - 60_000) })).ok).toBe(true);

    const wrongHw = await h.verify('1.0.1', { installed: { hardwareId: 'edge-gw-x2' } });
    expect(wrongHw.checks[0]!.detail).toBe(`WRONG_HARDWARE: manifest is for hardware ${HARDWARE}, this device is edge-gw-x2`);

    const secDown = await h.verify('1.0.1', { installed: { hardwareId: HARDWARE, securityVersion: 3 } });
    expect(secDown.checks[0]!.detail).toBe('SECURITY_VERSION_DOWNGRADE: release 1.0.1 has security version 2, below the device\'s 3');
    expect((await h.verify('1.0.1', { installed: { hardwareId: HARDWARE, securityVersion: 2, version: '1.0.0' } })).ok).toBe(true);

    const down = await h.verify('1.0.0', { installed: { hardwareId: HARDWARE, version: '1.0.1', securityVersion: 1 } });
    expect(down.checks[0]!.detail).toBe('VERSION_DOWNGRADE: release 1.0.0 is older than the installed 1.0.1');

    // The delta may only be applied on top of the 1.0.0 image.
    const delta = m101.deltas[0]!;
    expect(() => checkDeltaBase(delta, m100.image.sha256)).not.toThrow();
    expect(() => checkDeltaBase(delta, m101.image.sha256)).toThrow(/DELTA|starts from image sha256/);
  });

  it('rejects corrupted manifest bundles with a clear error', async () => {
    const bundleText = (await h.store.getBytes(manifestBundleKey(HARDWARE, '1.0.1'))).toString('utf8');
    const truncatedJson = await h.verify('1.0.1', { bundle: bundleText.slice(0, bundleText.length / 2) });
    expect(truncatedJson.checks[0]!.detail).toMatch(/^MALFORMED_MANIFEST: manifest signature bundle is malformed: /);

    const notABundle = await h.verify('1.0.1', { bundle: '{"mediaType":"application/json"}' });
    expect(notABundle.checks[0]!.detail).toMatch(/^MALFORMED_MANIFEST: /);

    // A valid JSON bundle whose signature bytes were changed.
    const bundle = JSON.parse(bundleText);
    const sig = Buffer.from(bundle.messageSignature.signature, 'base64');
    sig[sig.length - 1] = sig[sig.length - 1]! ^ 0xff;
    bundle.messageSignature.signature = sig.toString('base64');
    const badSig = await h.verify('1.0.1', { bundle: JSON.stringify(bundle) });
    expect(badSig.ok).toBe(false);
    expect(badSig.checks[0]!.detail).toMatch(/^(WRONG_SIGNER|TAMPERED_MANIFEST): /);

    // A provenance bundle that is not JSON at all (stored under a manifest that pins it).
    const provenance = await withTampered(m101.provenance.location, () => h.verify('1.0.1'), () => Buffer.from('not json'));
    expect(failedChecks(provenance)).toEqual([expect.stringMatching(/^provenance: ARTIFACT_MISMATCH: provenance: sha256 /)]);
  });

  it('publishing the same version with the same image again returns the existing release', async () => {
    const before = await h.manifestBytes('1.0.1');
    const again = await h.publish({ image: image101, version: '1.0.1', securityVersion: 2 });
    expect(again).toMatchObject({ version: '1.0.1', outcome: 'existing', manifestSha256: sha256(before), deltas: 2 });
    expect((await h.manifestBytes('1.0.1')).equals(before)).toBe(true);
    expect((await h.index())?.releases.map((r) => r.version)).toEqual(['1.0.0', '1.0.1']);
  });

  it('re-publishing a release whose index entry was lost (crash between manifest and index) repairs the index', async () => {
    const key = releaseIndexKey(HARDWARE, 'stable');
    const index = (await h.index())!;
    await h.store.put(key, canonicalReleaseIndexBytes({ ...index, releases: index.releases.filter((r) => r.version !== '1.0.1') }));
    expect((await h.index())?.releases.map((r) => r.version)).toEqual(['1.0.0']);
    const again = await h.publish({ image: image101, version: '1.0.1', securityVersion: 2 });
    expect(again.outcome).toBe('existing');
    expect((await h.index())?.releases).toEqual(index.releases);
  });

  it('a retried publish step (same manifest bytes) completes; a different manifest for the version is refused', async () => {
    const activities = createActivities(h.config);
    const bundle = (await h.store.getBytes(manifestBundleKey(HARDWARE, '1.0.1'))).toString('utf8');
    const retried = await activities.publishRelease(m101, bundle);
    expect(retried).toMatchObject({ version: '1.0.1', outcome: 'created', manifestSha256: sha256(await h.manifestBytes('1.0.1')) });
    const other = { ...m101, expires: '2099-01-01T00:00:00Z' };
    await expect(activities.publishRelease(other, bundle)).rejects.toThrow(
      `a different manifest for ${HARDWARE} 1.0.1 is already published at ${manifestKey(HARDWARE, '1.0.1')}; refusing to replace it`,
    );
    expect((await h.store.getBytes(manifestBundleKey(HARDWARE, '1.0.1'))).toString('utf8')).toBe(bundle);
    expect((await h.verify('1.0.1')).ok).toBe(true);
  });

  it('refuses a different image for a published version, naming both digests', async () => {
    const otherSha = sha256(await readFile(image101other));
    const message = await h.publishFailure({ image: image101other, version: '1.0.1', securityVersion: 2 });
    expect(message).toBe(
      `version 1.0.1 is already published with image sha256 ${m101.image.sha256}; this image is ${otherSha}. Publish it under a new version.`,
    );
    expect(parseManifest(await h.manifestBytes('1.0.1')).image.sha256).toBe(m101.image.sha256);
  });

  it('refuses to join a release of the same version that is in flight with a different image', async () => {
    // A task queue nobody polls keeps the first run in flight.
    const idle = await ReleaseHarness.start(h.config.temporal.address, 'release-idle', {}, false);
    try {
      const first = await startRelease(idle.client, 'release-idle', await idle.request({ image: image100, version: '7.0.0' }));
      // The same image joins the run in flight (a re-run of an interrupted CLI, say).
      const joined = await startRelease(idle.client, 'release-idle', await idle.request({ image: image100, version: '7.0.0' }));
      expect(joined.workflowId).toBe(first.workflowId);
      expect((await joined.describe()).runId).toBe((await first.describe()).runId);
      const other = await idle.request({ image: image101, version: '7.0.0' });
      const runningSha = sha256(await readFile(image100));
      await expect(startRelease(idle.client, 'release-idle', other)).rejects.toThrow(
        `release ${HARDWARE} 7.0.0 is already being published with image sha256 ${runningSha} (workflow release-${HARDWARE}-7.0.0); this image is ${other.image.sha256}. Publish it under a new version.`,
      );
      await first.terminate('test over');
    } finally {
      await idle.close();
    }
  });

  it('refuses a security version below a published one', async () => {
    const message = await h.publishFailure({ image: image101other, version: '1.0.2', securityVersion: 1 });
    expect(message).toBe('security version 1 is below 2 of release 1.0.1; devices would refuse it');
    expect(await h.store.head(manifestKey(HARDWARE, '1.0.2'))).toBeUndefined();
  });

  it('refuses VEX naming a component the SBOM lacks, malformed VEX and unreadable component files, publishing nothing', async () => {
    const missing = 'pkg:deb/debian/libfoo@9.9.9?arch=amd64';
    const vexFile = join(dir, 'vex-missing.yaml');
    await writeFile(vexFile, `- vulnerability: CVE-2024-0001\n  purl: "${missing}"\n  state: not_affected\n  justification: code_not_present\n`);
    const message = await h.publishFailure({ image: image101other, version: '1.0.2', vex: vexFile });
    expect(message).toMatch(/^step generateVex: VEX: VEX statement 0 \(CVE-2024-0001\): component pkg:deb\/debian\/libfoo@9\.9\.9\?arch=amd64 is not in SBOM urn:uuid:/);

    const malformed = join(dir, 'vex-malformed.yaml');
    await writeFile(malformed, `- vulnerability: not-an-id\n  purl: "${missing}"\n  state: maybe\n`);
    const bad = await h.publishFailure({ image: image101other, version: '1.0.2', vex: malformed });
    expect(bad).toContain('step generateVex: VEX: vex-malformed.yaml: invalid VEX statements');
    expect(bad).not.toContain('/work/blobs/');
    expect(bad).toContain('statement 0 field "vulnerability"');
    expect(bad).toContain('statement 0 field "state"');

    // A component file nobody can read names the file as it was handed in.
    const garbage = join(dir, 'components.txt');
    await writeFile(garbage, 'this is not a component list\n');
    const sbomFailure = await h.publishFailure({ image: image101other, version: '1.0.2', components: [garbage] });
    expect(sbomFailure).toMatch(/^step generateSbom: SBOM: components\.txt: unrecognised component file/);

    expect(await h.store.head(manifestKey(HARDWARE, '1.0.2'))).toBeUndefined();
    expect(await h.store.head(manifestBundleKey(HARDWARE, '1.0.2'))).toBeUndefined();
    expect((await h.index())?.releases.map((r) => r.version)).toEqual(['1.0.0', '1.0.1']);
  });

  it('concurrent releases on one channel both land in its index; an unrelated image gets no delta, with the reason recorded', async () => {
    const [a, b] = await Promise.all([
      h.publish({ image: image100, version: '3.0.0', channel: 'beta', securityVersion: 2 }),
      h.publish({ image: image101, version: '3.0.1', channel: 'beta', securityVersion: 2 }),
    ]);
    expect([a.outcome, b.outcome]).toEqual(['created', 'created']);
    expect((await h.index('beta'))?.releases.map((r) => r.version)).toEqual(['3.0.0', '3.0.1']);
    // The stable index is untouched by beta releases.
    expect((await h.index('stable'))?.releases.map((r) => r.version)).toEqual(['1.0.0', '1.0.1']);

    // Random bytes: nothing to share with earlier images, so every delta is skipped.
    const noise = join(dir, 'noise.img');
    const bytes = Buffer.alloc(512 * 1024);
    for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i);
    await writeFile(noise, bytes);
    const c = await h.publish({ image: noise, version: '3.1.0', channel: 'beta' });
    expect(c).toMatchObject({ outcome: 'created', deltas: 0, skippedDeltas: 4 });
    const m = parseManifest(await h.manifestBytes('3.1.0'));
    expect(m.securityVersion).toBe(2);
    // The skip rule holds per format, each with its reason.
    expect(m.skippedDeltas.map((d) => `${d.format} ${d.fromVersion}`)).toEqual(['bsdiff 3.0.1', 'ops 3.0.1', 'bsdiff 3.0.0', 'ops 3.0.0']);
    for (const d of m.skippedDeltas) expect(d.reason).toMatch(/^delta [\d.]+ MB is \d+% of the compressed full image [\d.]+ MB; must be < 90%$/);
    for (const v of ['3.0.0', '3.0.1', '3.1.0']) expect(failedChecks(await h.verify(v))).toEqual([]);
  });

  it('cosign verify-blob accepts the image and manifest bundles; verify-blob-attestation accepts the provenance', async () => {
    const pub = publicKeyPathFor(h.config.signing.keyPath);
    expect((await readFile(pub, 'utf8')).startsWith('-----BEGIN PUBLIC KEY-----')).toBe(true);
    // The public key cosign gets is the one the trust root pins.
    const hint = Object.keys((await h.trustRoot()).pinnedKeys ?? {});
    expect(hint).toHaveLength(1);
    expect(sha256(createPublicKey(await readFile(pub, 'utf8')).export({ format: 'der', type: 'spki' }))).toBe(hint[0]);

    const image = await cosign(['verify-blob', '--key', pub, '--bundle', onDisk(m101.imageSignatureBundle.location), '--insecure-ignore-tlog', image101]);
    expect(image.stderr).toContain('Verified OK');
    expect(image.ok).toBe(true);

    const mKey = manifestKey(HARDWARE, '1.0.1');
    const manifest = await cosign(['verify-blob', '--key', pub, '--bundle', onDisk(manifestBundleKey(HARDWARE, '1.0.1')), '--insecure-ignore-tlog', onDisk(mKey)]);
    expect(manifest.stderr).toContain('Verified OK');
    expect(manifest.ok).toBe(true);

    const provenance = await cosign([
      'verify-blob-attestation', '--key', pub, '--bundle', onDisk(m101.provenance.location), '--type', 'slsaprovenance1', '--insecure-ignore-tlog', image101,
    ]);
    expect(provenance.stderr).toContain('Verified OK');
    expect(provenance.ok).toBe(true);

    // And cosign refuses the wrong image under the same bundle.
    const wrong = await cosign(['verify-blob', '--key', pub, '--bundle', onDisk(m101.imageSignatureBundle.location), '--insecure-ignore-tlog', image100]);
    expect(wrong.ok).toBe(false);
  });

  it("Debian's bspatch applies our delta to the 1.0.0 image and yields the 1.0.1 image", async () => {
    const bspatch = findTool('bspatch');
    if (!bspatch) {
      console.warn('SKIPPED: bspatch not installed (apt-get install -y bsdiff); CI installs it');
      return;
    }
    const out = join(dir, 'patched.tar');
    await run(bspatch, [image100, out, onDisk(m101.deltas[0]!.location)]);
    const patched = await readFile(out);
    expect(patched.length).toBe(m101.image.length);
    expect(sha256(patched)).toBe(m101.image.sha256);
  });

  it('the published ops delta applies to the 1.0.0 image as a stream and yields the 1.0.1 image', async () => {
    const ops = m101.deltas.find((d) => d.format === 'ops')!;
    const out = join(dir, 'patched-ops.tar');
    const applied = await applyOpsDelta({ sourcePath: image100, patchPath: onDisk(ops.location), outPath: out });
    expect(applied).toMatchObject({ sha256: m101.image.sha256, length: m101.image.length });
    expect(sha256(await readFile(out))).toBe(m101.image.sha256);
    // Only the bsdiff entry is what bspatch-only tools get; the ops patch is not BSDIFF40.
    expect((await readFile(onDisk(ops.location))).subarray(0, 8).toString('latin1')).toBe('OTAOPS\r\n');
  });

  it('a tampered delta makes bspatch fail or produce the wrong image (the digest check catches it)', async () => {
    const bspatch = findTool('bspatch');
    if (!bspatch) return;
    const out = join(dir, 'patched-bad.tar');
    await rm(out, { force: true });
    const result = await withTampered(m101.deltas[0]!.location, () =>
      run(bspatch, [image100, out, onDisk(m101.deltas[0]!.location)]).then(
        () => 'ok',
        () => 'failed',
      ),
    );
    if (result === 'ok') expect(sha256(await readFile(out))).not.toBe(m101.image.sha256);
  });

  it('publishes a release with no earlier base without any delta, and a truncated image upload is refused', async () => {
    // An empty image never reaches the workflow: the client refuses it with the path.
    const empty = join(dir, 'empty.img');
    await writeFile(empty, '');
    await expect(h.request({ image: empty, version: '2.0.0' })).rejects.toThrow(`${empty}: file is empty`);
    // An image key whose stored size differs from the request (a truncated upload) is refused by inspect.
    const request = await h.request({ image: image101other, version: '2.0.0', securityVersion: 2 });
    await truncate(onDisk(request.image.key), request.image.size - 1).catch(async () => {
      await chmod(onDisk(request.image.key), 0o644);
      await truncate(onDisk(request.image.key), request.image.size - 1);
    });
    const { startRelease } = await import('../../temporal/release-client.js');
    const { failureMessage } = await import('../../temporal/failure-message.js');
    const handle = await startRelease(h.client, h.config.temporal.taskQueue, request);
    const message = await handle.result().then(
      () => 'published',
      (err) => failureMessage(err),
    );
    expect(message).toBe(`step inspectRelease: image ${request.image.key} has ${request.image.size - 1} bytes, expected ${request.image.size}`);
    expect(await h.store.head(manifestKey(HARDWARE, '2.0.0'))).toBeUndefined();
  });
});
