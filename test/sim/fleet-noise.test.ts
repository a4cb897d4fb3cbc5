// The simulated fleet's noise is seeded and does what it says: an exact silent share, install
// failures and failing heartbeats at their rates, the same draws for the same seed in any order.
import { describe, expect, it } from 'vitest';
import { bricks, FleetNoise } from '../../sim/fleet-noise.js';
import type { BehaviourModel, InstallOutcome, ProtocolDevice } from '../../sim/protocol-device.js';

const ids = Array.from({ length: 2000 }, (_, i) => `sim-${String(i).padStart(5, '0')}`);
const device = (id: string) => ({ id }) as ProtocolDevice;
const commit: BehaviourModel = () => ({ result: 'commit' });
const release = { version: '1.1.0' };

describe('fleet noise', () => {
  it('picks exactly round(share × fleet) silent devices, the same ones for the same seed', () => {
    const a = new FleetNoise({ seed: 7, silentShare: 0.1 }, ids);
    const silent = ids.filter((id) => a.isSilent(id));
    expect(silent).toHaveLength(200);
    const reversed = new FleetNoise({ seed: 7, silentShare: 0.1 }, [...ids].reverse());
    expect(ids.filter((id) => reversed.isSilent(id))).toEqual(silent);
    const other = new FleetNoise({ seed: 8, silentShare: 0.1 }, ids);
    expect(ids.filter((id) => other.isSilent(id))).not.toEqual(silent);
  });

  it('fails installs with a reported install failure at its rate, deterministically per device', () => {
    const draw = (order: string[]) => {
      const install = new FleetNoise({ seed: 3, installFailureRate: 0.02 }, ids).install(commit);
      const out = new Map<string, InstallOutcome>();
      for (const id of order) out.set(id, install(device(id), release));
      return ids.map((id) => out.get(id)!.result);
    };
    const forward = draw(ids);
    const failed = forward.filter((r) => r === 'fail').length;
    expect(failed).toBeGreaterThan(20);
    expect(failed).toBeLessThan(65);
    expect(draw([...ids].reverse())).toEqual(forward);
    const install = new FleetNoise({ seed: 3, installFailureRate: 0.5 }, ids).install(commit);
    expect(install(device('x'), release)).toSatisfy((o: InstallOutcome) => o.result === 'commit' || (o.result === 'fail' && o.kind === 'install' && !o.fallsBack));
  });

  it('fails heartbeat health checks at its rate and keeps the release\'s own health', () => {
    const model = new FleetNoise({ seed: 5, heartbeatFailureRate: 0.1 }, ids).heartbeat(() => ({ crashLoop: true }));
    const windows = ids.map((id) => model(device(id)));
    expect(windows.every((w) => w.crashLoop)).toBe(true);
    const failed = windows.filter((w) => w.healthFailed).length;
    expect(failed).toBeGreaterThan(150);
    expect(failed).toBeLessThan(250);
  });

  it('a bricking release bricks its share of devices, the rest commit', () => {
    const behaviour = bricks(0.2, 11);
    const bricked = ids.filter((id) => behaviour(device(id), release).result === 'brick').length;
    expect(bricked).toBeGreaterThan(340);
    expect(bricked).toBeLessThan(460);
    expect(() => new FleetNoise({ seed: 1, silentShare: 1.5 }, ids)).toThrow(/silentShare must be in \[0, 1\]/);
    expect(() => bricks(2, 1)).toThrow(/share must be in \[0, 1\]/);
    expect(() => new FleetNoise({ seed: 1, installFailureRate: 1 }, ids)).toThrow(/installFailureRate must be in \[0, 1\)/);
  });
});
