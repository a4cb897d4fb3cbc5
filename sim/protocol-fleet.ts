// A fleet of protocol-level simulated devices (sim/protocol-device.ts) checking in to a real
// gateway. Manifests are verified once per release against the pinned trust root, exactly as
// devices do, then cached: thousands of devices share one verification.
import { mulberry32 } from '../platform/seeded-random.js';
import { generateDeviceKey, type DeviceKey } from '../schemas/device-envelope.js';
import type { Labels } from '../schemas/device-api.js';
import type { LocalTrustRootJSON } from '../signing/trust-root.js';
import { policyFor, verifySignedManifest } from '../verification/verify-manifest.js';
import { FleetNoise, idHash, type FleetNoiseOptions } from './fleet-noise.js';
import { ProtocolDevice, type SimPreauthorization, type BehaviourModel, type CheckinOutcome, type HeartbeatModel, type InstalledImage, type ManifestResolver, type ProtocolDeviceOptions, type WindowHealth } from './protocol-device.js';

export interface ProtocolFleetOptions {
  count: number;
  hardwareId: string;
  channel: string;
  gatewayUrl: string;
  /**
   * How the devices are admitted: `preauthorize` records each device's key and selectors on the
   * operator side first (the fleet store, or `ota fleet preauthorize --file`); `tokenFor` hands each
   * device its own single-use token. Without either the devices must already be admitted.
   */
  preauthorize?: (devices: SimPreauthorization[]) => Promise<void>;
  tokenFor?: (device: SimPreauthorization) => Promise<string>;
  trustRoot: LocalTrustRootJSON;
  factory: InstalledImage;
  /** Keys made beforehand (simIdentities), e.g. to preauthorize before the gateway runs; default: fresh keys. */
  identities?: SimIdentity[];
  idPrefix?: string;
  labelsFor?: (index: number) => Labels;
  /** Parallel HTTP conversations with the gateway. */
  concurrency?: number;
  /** Seeded failures that no release causes: a silent share, install noise, heartbeat noise (sim/fleet-noise.ts). */
  noise?: FleetNoiseOptions;
  /**
   * A device's conversation that fails (HTTP error, reset connection) is passed here and the round
   * goes on, as a real device would retry at its next check-in; without it, the round rejects.
   */
  onDeviceError?: (deviceId: string, error: unknown) => void;
  /** Mutual TLS: every device pins this fleet CA root and holds a short-lived client certificate (sim/protocol-device.ts). */
  fleetCaPem?: string;
  /** TLS connection reuse and session resumption per device (default both on). */
  tls?: ProtocolDeviceOptions['tls'];
  /** Called as each device finishes enrolling, with how many have (progress of a long enrollment). */
  onEnrolled?: (enrolled: number) => void;
}

export class ProtocolFleet {
  private readonly manifests = new Map<string, Promise<InstalledImage>>();
  readonly noise: FleetNoise;

  private constructor(
    readonly devices: ProtocolDevice[],
    private readonly opts: ProtocolFleetOptions,
  ) {
    this.noise = new FleetNoise(opts.noise ?? { seed: 0 }, devices.map((d) => d.id));
  }

  static async enroll(opts: ProtocolFleetOptions): Promise<ProtocolFleet> {
    const identities = opts.identities ?? simIdentities(opts);
    const devices = identities.map(
      (identity) => new ProtocolDevice({ ...identity, hardwareId: opts.hardwareId, channel: opts.channel, gatewayUrl: opts.gatewayUrl, factory: opts.factory, fleetCaPem: opts.fleetCaPem, tls: opts.tls }),
    );
    const fleet = new ProtocolFleet(devices, opts);
    await opts.preauthorize?.(devices.map((d) => d.preauthorization()));
    let enrolled = 0;
    await fleet.each(async (d) => {
      await d.enroll(opts.tokenFor ? await opts.tokenFor(d.preauthorization()) : undefined);
      opts.onEnrolled?.(++enrolled);
    });
    return fleet;
  }

  /** Every device that is not silent checks in once (with the fleet's install noise); returns what each did. */
  tick(behaviour: BehaviourModel): Promise<CheckinOutcome[]> {
    const noisy = this.noise.install(behaviour);
    return this.each((d) => (this.noise.isSilent(d.id) ? Promise.resolve({ action: 'offline' as const }) : d.checkIn(noisy, this.resolve)));
  }

  /**
   * Every device that is not silent (nor bricked) sends one window's heartbeat. `model` says how
   * each fares (default: healthy); the fleet's heartbeat noise, or backgroundNoise, adds failures
   * unrelated to any release.
   */
  heartbeats(model: HeartbeatModel = () => ({})): Promise<void[]> {
    const noisy = this.noise.heartbeat(model);
    return this.each(async (d) => (this.noise.isSilent(d.id) ? undefined : d.heartbeat(noisy(d))));
  }

  /** Devices that can be heard from: not in the silent share and not bricked. */
  reachable(): ProtocolDevice[] {
    return this.devices.filter((d) => !this.noise.isSilent(d.id) && !d.bricked);
  }

  /** How many devices run each version. */
  versions(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const d of this.devices) counts[d.current.version] = (counts[d.current.version] ?? 0) + 1;
    return counts;
  }

  readonly resolve: ManifestResolver = (manifestUrl, bundleUrl) => {
    let cached = this.manifests.get(manifestUrl);
    if (!cached) {
      cached = this.verifiedRelease(manifestUrl, bundleUrl);
      this.manifests.set(manifestUrl, cached);
      cached.catch(() => this.manifests.delete(manifestUrl));
    }
    return cached;
  };

  private async verifiedRelease(manifestUrl: string, bundleUrl: string): Promise<InstalledImage> {
    const [manifestBytes, bundle] = await Promise.all([this.fetchBytes(manifestUrl), this.fetchBytes(bundleUrl)]);
    const { manifest } = await verifySignedManifest({
      manifestBytes,
      bundle: bundle.toString('utf8'),
      trustRoot: this.opts.trustRoot,
      policy: policyFor(this.opts.trustRoot),
    });
    return { version: manifest.version, imageSha256: manifest.image.sha256, securityVersion: manifest.securityVersion };
  }

  private async fetchBytes(path: string): Promise<Buffer> {
    // Under mTLS the fleet reads manifests with device 0's certificate, as any of its devices could.
    const res = await this.devices[0]!.fetch(new URL(path, this.opts.gatewayUrl).toString());
    if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}`);
    return Buffer.from(await res.arrayBuffer());
  }

  private async each<T>(fn: (device: ProtocolDevice) => Promise<T>): Promise<T[]> {
    const results: T[] = new Array(this.devices.length);
    let next = 0;
    const workers = Array.from({ length: Math.min(this.opts.concurrency ?? 16, this.devices.length) }, async () => {
      while (next < this.devices.length) {
        const i = next++;
        const device = this.devices[i]!;
        if (!this.opts.onDeviceError) results[i] = await fn(device);
        else results[i] = await fn(device).catch((error: unknown) => (this.opts.onDeviceError!(device.id, error), undefined as T));
      }
    });
    await Promise.all(workers);
    return results;
  }
}

export interface SimIdentity {
  id: string;
  key: DeviceKey;
  labels: Labels;
}

/** Ids (`<prefix>-00000` ..., numbered from `from`, default 0), fresh Ed25519 keys and labels for a simulated fleet. */
export function simIdentities(opts: { count: number; from?: number; idPrefix?: string; labelsFor?: (index: number) => Labels }): SimIdentity[] {
  const from = opts.from ?? 0;
  return Array.from({ length: opts.count }, (_, i) => ({
    id: `${opts.idPrefix ?? 'sim'}-${String(from + i).padStart(5, '0')}`,
    key: generateDeviceKey('ed25519'),
    labels: opts.labelsFor?.(from + i) ?? {},
  }));
}

/** What `ota fleet preauthorize --file` reads: one preauthorization per device. */
export function preauthorizationsOf(identities: SimIdentity[], hardwareId: string, channel: string): SimPreauthorization[] {
  return identities.map(({ id, key, labels }) => ({ deviceId: id, hardwareId, channel, labels, publicKeyPem: key.publicKeyPem, keyAlgorithm: key.algorithm }));
}

/**
 * Background failures that have nothing to do with the release (power, network, flaky storage):
 * each device, in each window, fails its health check with probability `rate`, whatever it runs,
 * seeded. `then` adds release-specific health on top (e.g. a release that crash-loops after commit).
 */
export function backgroundNoise(rate: number, seed: number, then: HeartbeatModel = () => ({})): HeartbeatModel {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`noise rate must be in [0, 1), got ${rate}`);
  // One stream per device (seed and id), so the draws do not depend on the order devices run in.
  const streams = new Map<string, () => number>();
  return (device) => {
    let random = streams.get(device.id);
    if (!random) {
      random = mulberry32(seed ^ idHash(device.id));
      streams.set(device.id, random);
    }
    const own: WindowHealth = then(device);
    return random() < rate ? { ...own, healthFailed: true } : own;
  };
}
