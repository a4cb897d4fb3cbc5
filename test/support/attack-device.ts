// The attack suite's device side (test/attacks/): simulated devices on the shared signed
// fixture, an install from an offline bundle, and bundles an attacker prepared (a copy of the
// store with one file changed, or a manifest changed and signed again with the pinned key, as a
// release key holder could).
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { installUpdate, type InstallRequest } from '../../device-client/agent/install.js';
import { OfflineBundleSource } from '../../device-client/agent/offline-bundle.js';
import { manifestBundleKey, manifestKey } from '../../release/layout.js';
import { bundleToText } from '../../signing/bundle-json.js';
import { loadOrCreateSigningKey } from '../../signing/keys.js';
import { signBlob } from '../../signing/message-signature.js';
import { DEVICE_HARDWARE, type PublishedFixture } from './device-releases.js';
import { createSimDevice, type SimDevice } from './device-sim.js';
import { deviceSnapshot, type DeviceSnapshot } from './device-state-snapshot.js';
import { sharedSampleReleases } from './shared-releases.js';

/** The releases every attack file shares (one publish per run, support/shared-releases.ts). */
export const ATTACK_RELEASES = [
  { version: '1.0.0', securityVersion: 1 },
  { version: '1.0.1', securityVersion: 2 },
];

export class AttackBench {
  private counter = 0;
  constructor(
    readonly root: string,
    readonly fixture: PublishedFixture,
  ) {}

  device(options: { securityVersion?: number; config?: Record<string, unknown> } = {}): Promise<SimDevice> {
    return createSimDevice(join(this.root, `device-${++this.counter}`), this.fixture, { factory: this.fixture.releases['1.0.0']!, ...options });
  }

  /** A copy of the published store to tamper with. */
  async bundleCopy(name: string): Promise<string> {
    const dir = join(this.root, `${name}-${++this.counter}`);
    await cp(this.fixture.storeDir, dir, { recursive: true });
    return dir;
  }

  /** A copy whose manifest of `version` is changed by `change` and signed again with the pinned release key. */
  async resigned(name: string, version: string, change: (manifest: Record<string, unknown>) => Record<string, unknown>): Promise<string> {
    const dir = await this.bundleCopy(name);
    const manifestPath = join(dir, manifestKey(DEVICE_HARDWARE, version));
    const bytes = Buffer.from(JSON.stringify(change(JSON.parse(await readFile(manifestPath, 'utf8')))));
    await writeFile(manifestPath, bytes);
    const key = await loadOrCreateSigningKey(this.fixture.signingKeyPath);
    await writeFile(join(dir, manifestBundleKey(DEVICE_HARDWARE, version)), bundleToText(await signBlob({ bytes }, { mode: 'key', key })));
    return dir;
  }
}

/** Registers the file's setup and teardown: a temp folder and the shared releases. Call at the top of a test file. */
export function useAttackBench(name: string): () => AttackBench {
  let bench: AttackBench | undefined;
  beforeAll(async () => {
    bench = new AttackBench(await mkdtemp(join(tmpdir(), `ota-attack-${name}-`)), await sharedSampleReleases(ATTACK_RELEASES));
  }, 300_000);
  afterAll(async () => {
    if (bench) await rm(bench.root, { recursive: true, force: true });
  });
  return () => bench!;
}

export async function installFromBundle(sim: SimDevice, bundle: string, extra: Partial<InstallRequest> = {}) {
  const device = await sim.open();
  const source = await OfflineBundleSource.open(bundle, device.scratchDir);
  try {
    return await installUpdate(device, { source, sourceRef: bundle, ...extra });
  } finally {
    await source.close();
  }
}

/** Runs the attack; returns its error code and asserts-ready snapshots of the device before and after. */
export async function refusal(sim: SimDevice, attack: () => Promise<unknown>): Promise<{ code: string | undefined; message: string; before: DeviceSnapshot; after: DeviceSnapshot }> {
  const before = await deviceSnapshot(sim);
  const error = await attack().then(
    () => undefined,
    (e: unknown) => e as Error & { code?: string },
  );
  if (!error) throw new Error('the attack was not refused');
  return { code: error.code, message: error.message, before, after: await deviceSnapshot(sim) };
}
