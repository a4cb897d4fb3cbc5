// `ota fleet affected` end to end: three demo images (each ships its own libc6 build) published
// through the real release pipeline (Temporal dev server, worker in this process), the second with a
// VEX statement ruling the CVE out; devices in the fleet store on each; a Grype report naming the
// libc6 of the first two releases supplied.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { buildSampleImage } from '../../demo/sample-image.js';
import type { AffectedAnswer } from '../../fleet-insight/affected-devices.js';
import { FleetStore } from '../../fleet/fleet-store.js';
import { generateDeviceKey } from '../../schemas/device-envelope.js';
import { ensureDist, OTA_BIN } from '../support/dist.js';
import { HARDWARE, ReleaseHarness } from '../support/release-harness.js';
import { startTemporal } from '../support/temporal.js';

// The demo image's libc6 version is 2.36-9+deb12u<4 + 100*major + 10*minor + patch>, namespace its os-release ID.
const libc = (build: number) => `pkg:deb/edgeos/libc6@2.36-9%2Bdeb12u${build}`;
/** The same purl as the SBOM writes it. */
const sbomLibc = (build: number) => `pkg:deb/edgeos/libc6@2.36-9+deb12u${build}`;
const grypeMatch = (purl: string) => ({
  vulnerability: { id: 'CVE-2024-2961', severity: 'High', fix: { versions: [], state: 'unknown' } },
  relatedVulnerabilities: [],
  artifact: { name: 'libc6', type: 'deb', purl },
});

describe('ota fleet affected on released demo images', { timeout: 300_000 }, () => {
  let env: TestWorkflowEnvironment;
  let h: ReleaseHarness;
  let dir: string;
  let skipReason: string | undefined;
  let grype: string;

  const ota = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, [OTA_BIN, ...args], { env: { PATH: process.env.PATH ?? '', HOME: h.stateDir, OTA_STATE_DIR: h.stateDir }, timeout: 120_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? (child.exitCode ?? 1) : 0, stdout, stderr }),
      );
    });

  beforeAll(async () => {
    skipReason = await ensureDist();
    if (skipReason) console.error(`\n*** SKIPPING ota fleet affected CLI test: ${skipReason} ***\n`);
    dir = await mkdtemp(join(tmpdir(), 'ota-affected-'));
    grype = join(dir, 'grype.json');
    await writeFile(grype, JSON.stringify({ matches: [grypeMatch(libc(104)), grypeMatch(libc(114))], descriptor: { name: 'grype' } }));
    const vex = join(dir, 'vex.yaml');
    await writeFile(
      vex,
      ['- vulnerability: CVE-2024-2961', `  purl: ${libc(114)}`, '  state: not_affected', '  justification: code_not_reachable', '  detail: nothing calls iconv with ISO-2022-CN-EXT.', ''].join('\n'),
    );
    let config;
    ({ env, config } = await startTemporal());
    h = await ReleaseHarness.start(config('fleet-affected').address, 'fleet-affected');
    const publish = async (version: string, vexFile?: string) => {
      const image = buildSampleImage({ version, out: join(dir, `fw-${version}.tar`) }).path;
      await h.publish({ image, version, securityVersion: 1, vex: vexFile });
    };
    await publish('1.0.0');
    await publish('1.1.0', vex);
    await publish('1.2.0');

    const fleet = await FleetStore.open(h.config.fleet.databaseUrl);
    try {
      const devices: Array<[string, string | null, Record<string, string>]> = [
        ['dev-canary', '1.0.0', { site: 'north' }],
        ['dev-old', '1.0.0', { site: 'south' }],
        ['dev-vex', '1.1.0', { site: 'north' }],
        ['dev-new', '1.2.0', { site: 'south' }],
        ['dev-silent', null, {}],
      ];
      for (const [id, version, labels] of devices) {
        const key = generateDeviceKey('ecdsa-p256-sha256');
        await fleet.enrollDevice({ id, hardwareId: HARDWARE, channel: 'stable', labels, publicKeyPem: key.publicKeyPem, keyAlgorithm: 'ecdsa-p256-sha256' });
        if (version) await fleet.recordCheckin(id, { currentVersion: version, imageSha256: '0'.repeat(64), slot: 'a', securityVersion: 1 });
      }
      await fleet.createRollout({ id: 'rollout-100', hardwareId: HARDWARE, channel: 'stable', releaseVersion: '1.0.0', previousVersion: null });
      await fleet.assignDevices('rollout-100', [{ deviceId: 'dev-canary', ring: 'canary' }]);
    } finally {
      await fleet.close();
    }
  }, 600_000);

  afterAll(async () => {
    await h?.close();
    await env?.teardown();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('names the devices on the affected release with hardware, ring and labels, less the release VEX rules out, and the release that fixes them', async (ctx) => {
    if (skipReason) return ctx.skip();
    const run = await ota('fleet', 'affected', 'CVE-2024-2961', '--scan', grype, '--json');
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const answer = JSON.parse(run.stdout) as AffectedAnswer;
    expect(answer.devices.map((d) => ({ id: d.id, hardware: d.hardwareId, release: d.release, ring: d.ring, site: d.labels.site, fixedBy: d.fixedBy }))).toEqual([
      { id: 'dev-canary', hardware: HARDWARE, release: '1.0.0', ring: 'canary', site: 'north', fixedBy: '1.2.0' },
      { id: 'dev-old', hardware: HARDWARE, release: '1.0.0', ring: null, site: 'south', fixedBy: '1.2.0' },
    ]);
    expect(answer.devices[0]!.components.map((c) => [c.purl.split('?')[0], c.vulnerabilities])).toEqual([[sbomLibc(104), ['CVE-2024-2961']]]);
    expect(answer.releases.map((r) => [r.version, r.affected])).toEqual([['1.0.0', true], ['1.1.0', false], ['1.2.0', false]]);
    expect(answer.releases[1]!.suppressed).toMatchObject([{ vulnerability: 'CVE-2024-2961', status: 'not_affected' }]);
    expect(answer.unaffectedDevices).toBe(2);
    expect(answer.unknownDevices.map((d) => d.id)).toEqual(['dev-silent']);

    const human = await ota('fleet', 'affected', 'CVE-2024-2961', '--scan', grype);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('CVE-2024-2961: 2 device(s) affected on 1 release(s); 2 not affected; 1 unknown');
    expect(human.stdout).toMatch(/dev-canary +edge-gw-x1\/stable +1\.0\.0 +canary +site=north +pkg:deb\/edgeos\/libc6@\S+ +1\.2\.0/);
    expect(human.stdout).toContain(`${HARDWARE} 1.1.0: ${sbomLibc(114)}`);
  });

  it('a component question needs no scan report; a vulnerability the evidence never names affects nothing', async (ctx) => {
    if (skipReason) return ctx.skip();
    const byPurl = JSON.parse((await ota('fleet', 'affected', 'pkg:deb/edgeos/libc6@2.36-9+deb12u104', '--json')).stdout) as AffectedAnswer;
    expect(byPurl.devices.map((d) => [d.id, d.release])).toEqual([['dev-canary', '1.0.0'], ['dev-old', '1.0.0']]);
    // Every libc6 build: every device with a known release; the newest release has no newer one to fix it.
    const anyLibc = JSON.parse((await ota('fleet', 'affected', 'pkg:deb/edgeos/libc6', '--json')).stdout) as AffectedAnswer;
    expect(anyLibc.devices.map((d) => [d.id, d.fixedBy])).toEqual([['dev-canary', null], ['dev-new', null], ['dev-old', null], ['dev-vex', null]]);
    // The releases were published without a scan report: their VEX holds only the engineer's statement.
    const unscanned = JSON.parse((await ota('fleet', 'affected', 'CVE-2024-2961', '--json')).stdout) as AffectedAnswer;
    expect(unscanned.devices).toEqual([]);
  });

  it('refuses a bad question or report in one line, exit 1', async (ctx) => {
    if (skipReason) return ctx.skip();
    const notReport = join(dir, 'not-a-report.json');
    await writeFile(notReport, '{"hello": 1}');
    const bad = await ota('fleet', 'affected', 'CVE-2024-2961', '--scan', notReport);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('not a Grype JSON ("matches") or OSV-Scanner JSON ("results") report');
    const word = await ota('fleet', 'affected', 'openssl');
    expect(word.code).toBe(1);
    expect(word.stderr).toContain('is neither a vulnerability id');
  });
});
