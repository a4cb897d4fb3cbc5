// `ota delta gc` through the compiled CLI over a fleet store (PGlite) and a local artifact store holding
// two ready on-demand deltas: one unused for 40 days, one used yesterday. A dry run removes nothing; the
// real run removes the old one's blob and row; a bad age is one clear line.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetStore } from '../../fleet/fleet-store.js';
import { LocalArtifactStore } from '../../stores/local-store.js';
import { ensureDist } from '../support/dist.js';
import { otaIn } from '../support/ota-cli.js';

const day = 86_400_000;

describe('ota delta gc', { timeout: 180_000 }, () => {
  let skipReason: string | undefined;
  const state = mkdtempSync(join(tmpdir(), 'delta-gc-cli-'));
  const ota = otaIn(state);
  const locations: string[] = [];
  const keyOf = (from: string) => ({ hardwareId: 'gw-a', toVersion: '1.3.0', fromSha256: from.repeat(64), format: 'ops' });

  beforeAll(async () => {
    skipReason = await ensureDist();
    if (skipReason) console.error(`\n*** SKIPPING ota delta gc CLI test: ${skipReason} ***\n`);
    const store = new LocalArtifactStore(join(state, 'artifacts'));
    const fleet = await FleetStore.open(`pglite:${join(state, 'fleet')}`);
    try {
      for (const [from, usedDaysAgo] of [['a', 40], ['b', 1]] as const) {
        const blob = await store.putBlob([Buffer.from(`delta from ${from}`)]);
        locations.push(blob.key);
        await fleet.requestDelta({ ...keyOf(from), channel: 'stable', fromVersion: from === 'a' ? '1.0.0' : '1.1.0', toSha256: 'f'.repeat(64), workflowId: `delta-${from}` });
        await fleet.recordDeltaOutcome(keyOf(from), { state: 'ready', sha256: blob.sha256, length: blob.size, location: blob.key, targetPath: `releases/gw-a/1.3.0/on-demand/${from.repeat(64)}.ops`, generationMs: 10 });
        await fleet.touchDeltaRequest(keyOf(from), new Date(Date.now() - usedDaysAgo * day));
      }
    } finally {
      await fleet.close();
      await store.close();
    }
  }, 200_000);

  afterAll(() => rmSync(state, { recursive: true, force: true }));

  it('says what would go, then removes the delta unused for longer than the age, keeping the recent one', async (ctx) => {
    if (skipReason) return ctx.skip();
    const dry = await ota(['delta', 'gc', '--older-than', '30d', '--keep', '0', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, removed: [{ fromVersion: '1.0.0', location: locations[0] }], kept: [{ fromVersion: '1.1.0' }] });
    const store = new LocalArtifactStore(join(state, 'artifacts'));
    expect(await store.head(locations[0]!)).toBeDefined();

    const real = await ota(['delta', 'gc', '--older-than', '30d', '--keep', '0']);
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout).toMatch(/^removed gw-a 1\.0\.0 -> 1\.3\.0 \(ops, \d+ bytes, last used .*\)\nremoved 1 on-demand delta\(s\), \d+ bytes; kept 1\n$/);
    expect(await store.head(locations[0]!)).toBeUndefined();
    expect(await store.head(locations[1]!)).toBeDefined();
    await store.close();
    const fleet = await FleetStore.open(`pglite:${join(state, 'fleet')}`);
    try {
      expect(await fleet.getDeltaRequest(keyOf('a'))).toBeUndefined();
      expect(await fleet.getDeltaRequest(keyOf('b'))).toMatchObject({ state: 'ready' });
    } finally {
      await fleet.close();
    }
  });

  it('refuses an age without a unit in one line', async (ctx) => {
    if (skipReason) return ctx.skip();
    const bad = await ota(['delta', 'gc', '--older-than', '30']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toEqual([expect.stringMatching(/age must be a number and a unit \(d, h, m or s\), e\.g\. 30d; got "30"/)]);
  });
});
