// `ota fleet quarantine list|show|release` through the compiled CLI, over a fleet store (PGlite)
// holding a device quarantined for a wrong boot measurement: why (PCR, value, expected), and an
// operator's release recorded with who released it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetStore } from '../../fleet/fleet-store.js';
import { generateDeviceKey } from '../../schemas/device-envelope.js';
import { ensureDist } from '../support/dist.js';
import { otaIn } from '../support/ota-cli.js';

const expected = 'ab'.repeat(32);
const measured = 'cd'.repeat(32);

describe('ota fleet quarantine', { timeout: 180_000 }, () => {
  let skipReason: string | undefined;
  const state = mkdtempSync(join(tmpdir(), 'fleet-quarantine-cli-'));
  const ota = otaIn(state);

  beforeAll(async () => {
    skipReason = await ensureDist();
    if (skipReason) console.error(`\n*** SKIPPING ota fleet quarantine CLI test: ${skipReason} ***\n`);
    const fleet = await FleetStore.open(`pglite:${join(state, 'fleet')}`);
    try {
      const key = generateDeviceKey('ecdsa-p256-sha256');
      await fleet.enrollDevice({ id: 'dev-q', hardwareId: 'rpi4-64', channel: 'stable', labels: {}, publicKeyPem: key.publicKeyPem, keyAlgorithm: key.algorithm });
      const evidence = { pcrs: { '16': measured }, pcr: 16, expected: [`1.0.0=${expected}`] };
      await fleet.recordAttestation({ deviceId: 'dev-q', ok: false, code: 'PCR_UNEXPECTED', detail: `PCR 16 is ${measured}`, releaseVersion: null, evidence });
      await fleet.openQuarantine({ deviceId: 'dev-q', code: 'ATTESTATION_FAILED:PCR_UNEXPECTED', reason: 'attestation failed', evidence, remediationVersion: '1.0.0' });
    } finally {
      await fleet.close();
    }
  }, 200_000);

  afterAll(() => rmSync(state, { recursive: true, force: true }));

  it('lists and shows why (which PCR, which value, which expected), then releases with who', async (ctx) => {
    if (skipReason) return ctx.skip();
    const list = await ota(['fleet', 'quarantine', 'list']);
    expect(list).toMatchObject({ code: 0 });
    expect(list.stdout).toMatch(/^dev-q {2}since \S+ {2}ATTESTATION_FAILED:PCR_UNEXPECTED {2}remediation 1\.0\.0\n$/);
    const shown = await ota(['fleet', 'quarantine', 'show', 'dev-q']);
    expect(shown.stdout).toContain('dev-q  assurance software  QUARANTINED');
    expect(shown.stdout).toContain(`PCR 16 = ${measured}, expected one of: 1.0.0=${expected}`);
    expect(shown.stdout).toContain('refused PCR_UNEXPECTED');

    const released = await ota(['fleet', 'quarantine', 'release', 'dev-q', '--by', 'alice', '--note', 'reflashed', '--json']);
    expect(released.code).toBe(0);
    expect(JSON.parse(released.stdout)).toMatchObject({ deviceId: 'dev-q', releasedBy: 'alice', releaseNote: 'reflashed' });
    expect((await ota(['fleet', 'quarantine', 'list'])).stdout).toBe('no device is quarantined\n');
    expect(JSON.parse((await ota(['fleet', 'quarantine', 'list', '--all', '--json'])).stdout)).toMatchObject([{ deviceId: 'dev-q', releasedBy: 'alice' }]);

    const again = await ota(['fleet', 'quarantine', 'release', 'dev-q', '--by', 'alice']);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('ota: device dev-q has no open quarantine\n');
  });
});
