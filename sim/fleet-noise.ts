// Failures a real fleet has that no release causes, seeded so a run can be repeated draw for draw:
// devices that are offline for good (enrolled, never check in), installs that fail now and then
// (power, flaky storage) with a reported failure, and health checks that fail in some heartbeat
// windows whatever the device runs. A release that bricks devices is the release's behaviour
// (`bricks` below), not noise. Every draw comes from a stream of its own per device and purpose, so
// results do not depend on the order in which devices run.
import { mulberry32 } from '../platform/seeded-random.js';
import type { BehaviourModel, HeartbeatModel, InstallOutcome, WindowHealth } from './protocol-device.js';

export interface FleetNoiseOptions {
  seed: number;
  /** Share of devices offline for the whole run (1: all): enrolled (so assigned to rings), never check in or heartbeat. Exact: round(share × fleet). */
  silentShare?: number;
  /** Per install attempt: probability the install fails with a reported `install` failure, whatever the release. */
  installFailureRate?: number;
  /** Per heartbeat window: probability the device's health check fails, whatever it runs. */
  heartbeatFailureRate?: number;
}

/** Seeded uniform draws in [0, 1), one stream per (device, purpose). */
export class SeededDraws {
  private readonly streams = new Map<string, () => number>();

  constructor(private readonly seed: number) {}

  next(deviceId: string, purpose: string): number {
    const key = `${purpose}\u0000${deviceId}`;
    let stream = this.streams.get(key);
    if (!stream) {
      stream = mulberry32(this.seed ^ idHash(key));
      this.streams.set(key, stream);
    }
    return stream();
  }
}

export class FleetNoise {
  private readonly draws: SeededDraws;
  private readonly silent: ReadonlySet<string>;

  /** deviceIds: the whole fleet, to pick the silent share from (exactly, and the same for the same seed). */
  constructor(readonly options: FleetNoiseOptions, deviceIds: readonly string[]) {
    for (const [name, value] of Object.entries(options)) {
      const max = name === 'silentShare' ? 1 : 0.999999;
      if (name !== 'seed' && !(typeof value === 'number' && value >= 0 && value <= max)) throw new RangeError(`noise ${name} must be in [0, ${max === 1 ? '1]' : '1)'}, got ${value}`);
    }
    this.draws = new SeededDraws(options.seed);
    const count = Math.round((options.silentShare ?? 0) * deviceIds.length);
    // A draw per device, not the hash itself: FNV of ids that differ in their last digit ranks them side by side.
    const ranked = deviceIds.map((id) => ({ id, rank: this.draws.next(id, 'silent') })).sort((a, b) => a.rank - b.rank || (a.id < b.id ? -1 : 1));
    this.silent = new Set(ranked.slice(0, count).map((r) => r.id));
  }

  isSilent(deviceId: string): boolean {
    return this.silent.has(deviceId);
  }

  /** The release's behaviour, with a reported install failure on `installFailureRate` of attempts. */
  install(behaviour: BehaviourModel): BehaviourModel {
    const rate = this.options.installFailureRate ?? 0;
    if (rate === 0) return behaviour;
    return (device, release) => (this.draws.next(device.id, 'install') < rate ? { result: 'fail', kind: 'install', fallsBack: false } : behaviour(device, release));
  }

  /** The window's health, with a failing health check on `heartbeatFailureRate` of windows. */
  heartbeat(model: HeartbeatModel): HeartbeatModel {
    const rate = this.options.heartbeatFailureRate ?? 0;
    if (rate === 0) return model;
    return (device) => {
      const own: WindowHealth = model(device);
      return this.draws.next(device.id, 'heartbeat') < rate ? { ...own, healthFailed: true } : own;
    };
  }
}

/**
 * A release that does `outcome` to `share` of the devices installing it (seeded per device and
 * release); everyone else gets `otherwise`.
 */
export function affects(share: number, seed: number, outcome: InstallOutcome, otherwise: BehaviourModel = () => ({ result: 'commit' })): BehaviourModel {
  if (!(share >= 0 && share <= 1)) throw new RangeError(`affected share must be in [0, 1], got ${share}`);
  const draws = new SeededDraws(seed);
  return (device, release) => (draws.next(device.id, `affects:${release.version}`) < share ? outcome : otherwise(device, release));
}

/**
 * A release that bricks `share` of the devices installing it: they take the offer, start
 * downloading, and are never heard from again (no install report, no heartbeat).
 */
export function bricks(share: number, seed: number, otherwise?: BehaviourModel): BehaviourModel {
  return affects(share, seed, { result: 'brick' }, otherwise);
}

/** FNV-1a, 32 bits: a stable per-string seed. */
export function idHash(id: string): number {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  return h >>> 0;
}
