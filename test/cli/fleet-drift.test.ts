// `ota fleet desired-state set|show|clear` and `ota fleet drift` through the compiled CLI over a
// fleet store (PGlite) holding a device with an open and a resolved drift; `ota fleet quarantine
// show` says why a drift quarantine was opened. Bad input gets one clear line.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetStore } from '../../fleet/fleet-store.js';
import { generateDeviceKey } from '../../schemas/device-envelope.js';
import { ensureDist } from '../support/dist.js';
import { otaIn } from '../support/ota-cli.js';

describe('ota fleet drift and desired-state', { timeout: 240_000 }, () => {
  let skipReason: string | undefined;
  const state = mkdtempSync(join(tmpdir(), 'fleet-drift-cli-'));
  const ota = otaIn(state);

  beforeAll(async () => {
    skipReason = await ensureDist();
    if (skipReason) console.error(`\n*** SKIPPING ota fleet drift CLI test: ${skipReason} ***\n`);
    const fleet = await FleetStore.open(`pglite:${join(state, 'fleet')}`);
    try {
      const key = generateDeviceKey('ed25519');
      await fleet.enrollDevice({ id: 'dev-d', hardwareId: 'rpi4-64', channel: 'stable', labels: {}, publicKeyPem: key.publicKeyPem, keyAlgorithm: key.algorithm });
      await fleet.reconcileDrift('dev-d', [{ kind: 'service-unexpected', subject: 'telnetd', detail: { service: 'telnetd' } }], 1);
      await fleet.reconcileDrift('dev-d', [{ kind: 'unknown-listening-port', subject: 'tcp/4444', detail: { port: 'tcp/4444', allowed: ['tcp/22'] } }], 2);
      await fleet.openQuarantine({ deviceId: 'dev-d', code: 'DRIFT:unknown-listening-port', reason: 'posture drift unknown-listening-port (tcp/4444) seen in heartbeat 2 on 1.0.0', evidence: { kind: 'unknown-listening-port', detail: { port: 'tcp/4444' } }, remediationVersion: null });
    } finally {
      await fleet.close();
    }
  }, 240_000);

  afterAll(() => rmSync(state, { recursive: true, force: true }));

  it('sets, shows and clears a desired state; refuses a malformed port with one line', async (ctx) => {
    if (skipReason) return ctx.skip();
    const set = await ota(['fleet', 'desired-state', 'set', '--hardware', 'rpi4-64', '--allow-port', 'tcp/22', '--allow-port', 'udp/123', '--allow-service', 'sshd', '--min-agent-version', '0.1.0', '--by', 'alice', '--json']);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ hardwareId: 'rpi4-64', ring: '', allowedPorts: ['tcp/22', 'udp/123'], allowedServices: ['sshd'], minAgentVersion: '0.1.0', configDigest: null, updatedBy: 'alice' });
    expect((await ota(['fleet', 'desired-state', 'set', '--hardware', 'rpi4-64', '--ring', 'canary', '--no-ports'])).code).toBe(0);
    const shown = await ota(['fleet', 'desired-state', 'show', '--hardware', 'rpi4-64']);
    expect(shown.stdout).toMatch(/^rpi4-64 {2}ports tcp\/22,udp\/123 {2}services sshd {2}config any {2}agent >= 0\.1\.0 .*\nrpi4-64 ring canary {2}ports none {2}services any /);
    const bad = await ota(['fleet', 'desired-state', 'set', '--hardware', 'rpi4-64', '--allow-port', 'tcp/99999']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('ota: --allow-port "tcp/99999": port must be at most 65535\n');
    expect((await ota(['fleet', 'desired-state', 'clear', '--hardware', 'rpi4-64', '--ring', 'canary'])).stdout).toBe('cleared the desired state of rpi4-64 ring canary\n');
  });

  it('lists open drift, --all with resolved events, --device for one device, and quarantine show says why', async (ctx) => {
    if (skipReason) return ctx.skip();
    const open = await ota(['fleet', 'drift']);
    expect(open.code, open.stderr).toBe(0);
    expect(open.stdout).toMatch(/^dev-d {2}unknown-listening-port tcp\/4444 {2}first seen \S+ {2}last seen \S+ \(OPEN\) {2}port=tcp\/4444\n$/);
    const all = JSON.parse((await ota(['fleet', 'drift', '--all', '--device', 'dev-d', '--json'])).stdout) as Array<{ kind: string; resolvedAt: string | null }>;
    expect(all.map((e) => [e.kind, e.resolvedAt === null])).toEqual([['unknown-listening-port', true], ['service-unexpected', false]]);
    const unknown = await ota(['fleet', 'drift', '--device', 'nobody']);
    expect(unknown).toMatchObject({ code: 1, stderr: 'ota: no device nobody in the fleet store\n' });
    const why = await ota(['fleet', 'quarantine', 'show', 'dev-d']);
    expect(why.stdout).toContain('DRIFT:unknown-listening-port');
    expect(why.stdout).toContain('why: posture drift unknown-listening-port (tcp/4444) seen in heartbeat 2 on 1.0.0; {"port":"tcp/4444"}');
  });
});
