// The status file of `ota dev devices` and how `ota dev status` tells it: a status claiming to run
// whose process is gone is stopped, a file that is not ours is no status, versions most devices first.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeDevFleet, describeVersions, devFleetStatusPath, liveDevFleetStatus, readDevFleetStatus, removeDevFleetStatus, writeDevFleetStatus, type DevFleetStatus } from '../../devstack/dev-fleet-status.js';
import { processStartTime } from '../../devstack/processes.js';

const status = (over: Partial<DevFleetStatus> = {}): DevFleetStatus => ({
  state: 'running',
  pid: process.pid,
  startTime: processStartTime(process.pid),
  hardwareId: 'gw-demo',
  channel: 'stable',
  gatewayUrl: 'http://127.0.0.1:8440',
  count: 10,
  ids: { first: 'dev-ab12-00000', last: 'dev-ab12-00009' },
  everySeconds: 1,
  startedAt: '2026-12-02T15:00:00.000Z',
  updatedAt: '2026-12-02T15:00:10.000Z',
  rounds: 9,
  versions: { '1.0.0': 3, '1.1.0': 7 },
  errors: 0,
  ...over,
});

describe('dev fleet status', () => {
  it('round-trips, and a running status whose process is this one stays running', () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'ota-devfleet-'));
    expect(readDevFleetStatus(stateDir)).toBeUndefined();
    writeDevFleetStatus(stateDir, status());
    expect(readDevFleetStatus(stateDir)).toEqual(status());
    expect(liveDevFleetStatus(stateDir)?.state).toBe('running');
    removeDevFleetStatus(stateDir);
    expect(readDevFleetStatus(stateDir)).toBeUndefined();
  });

  it('reports a running status as stopped when its process is gone or its pid was reused', () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'ota-devfleet-'));
    writeDevFleetStatus(stateDir, status({ pid: 2 ** 22 + 17 }));
    expect(liveDevFleetStatus(stateDir)).toMatchObject({ state: 'stopped', reason: `pid ${2 ** 22 + 17} is gone` });
    writeDevFleetStatus(stateDir, status({ startTime: 'not-this-process' }));
    expect(liveDevFleetStatus(stateDir)?.state).toBe('stopped');
    // A failed one keeps its reason, whatever its process.
    writeDevFleetStatus(stateDir, status({ pid: 2 ** 22 + 17, state: 'failed', reason: 'gw-demo 9.9.9 is not published' }));
    expect(liveDevFleetStatus(stateDir)).toMatchObject({ state: 'failed', reason: 'gw-demo 9.9.9 is not published' });
  });

  it('ignores a file that is not a status: not JSON, the wrong shape, or far too large', () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'ota-devfleet-'));
    writeDevFleetStatus(stateDir, status());
    for (const text of ['{not json', JSON.stringify({ pid: 'x' }), JSON.stringify({ ...status(), pad: 'x'.repeat(300 * 1024) })]) {
      writeFileSync(devFleetStatusPath(stateDir), text);
      expect(readDevFleetStatus(stateDir)).toBeUndefined();
    }
  });

  it('describes the fleet in one line per state, versions most devices first', () => {
    expect(describeVersions({ '1.0.0': 3, '1.1.0': 7 })).toBe('7 on 1.1.0, 3 on 1.0.0');
    expect(describeVersions({})).toBe('none');
    const now = Date.parse('2026-12-02T15:00:12.000Z');
    expect(describeDevFleet(status(), now)).toBe('10 simulated gw-demo devices (dev-ab12-00000 .. dev-ab12-00009) at http://127.0.0.1:8440: 7 on 1.1.0, 3 on 1.0.0; checking in every 1s (round 9, 2s ago)');
    expect(describeDevFleet(status({ errors: 2, lastError: 'dev-ab12-00003: /v1/checkin for dev-ab12-00003: HTTP 503' }), now)).toMatch(/; 2 failed conversations, last: dev-ab12-00003: .*HTTP 503$/);
    expect(describeDevFleet(status({ state: 'enrolling' }), now)).toMatch(/: enrolling$/);
    expect(describeDevFleet(status({ state: 'failed', reason: 'no such release' }), now)).toMatch(/: FAILED: no such release$/);
    expect(describeDevFleet(status({ state: 'stopped', reason: 'stopped on request' }), now)).toMatch(/: stopped \(stopped on request\); last seen 7 on 1\.1\.0, 3 on 1\.0\.0$/);
  });
});
