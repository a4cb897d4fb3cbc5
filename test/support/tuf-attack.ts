// The TUF attack files' shared setup (test/attacks/tuf-*.test.ts): signed releases from the real pipeline,
// a bundle copy without TUF metadata to build repositories on, simulated devices, installs from a bundle,
// and `refused`: runs an attack, returns its code and the device's fingerprint before and after.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { installUpdate, type InstallRequest } from '../../device-client/agent/install.js';
import { OfflineBundleSource } from '../../device-client/agent/offline-bundle.js';
import { verifyCandidate } from '../../device-client/agent/release-verification.js';
import { DEVICE_HARDWARE, publishSampleReleases, type PublishedFixture } from './device-releases.js';
import { createSimDevice, type SimDevice } from './device-sim.js';
import { copyBundle, createFleetTuf, deviceFingerprint, pinRoot, type FleetTuf } from './fleet-tuf.js';
import { manifestBundleKey, manifestKey } from '../../release/layout.js';
import { bundleToText } from '../../signing/bundle-json.js';
import type { SigningKey } from '../../signing/keys.js';
import { signBlob } from '../../signing/message-signature.js';
import type { TufExpiries } from '../../trust/repository.js';

export class TufAttackBench {
  private counter = 0;
  constructor(
    readonly root: string,
    readonly fixture: PublishedFixture,
    /** The published store before any TUF metadata: what each attack builds its repository on. */
    readonly plainBundle: string,
  ) {}

  async device(config: Record<string, unknown> = {}): Promise<SimDevice> {
    const n = ++this.counter;
    return createSimDevice(join(this.root, `device-${n}`), this.fixture, { factory: this.fixture.releases['1.0.0']!, config: { deviceId: `tuf-attack-${n}`, ...config } });
  }

  async bundleCopy(name: string, from = this.plainBundle): Promise<string> {
    return copyBundle(from, join(this.root, `${name}-${++this.counter}`));
  }

  /** A bundle with its own repository (fresh, or created at `now` in the past) and a device pinning its root 1. */
  async fleet(name: string, options: { now?: Date; expiries?: TufExpiries } = {}): Promise<{ bundle: string; tuf: FleetTuf; sim: SimDevice }> {
    const bundle = await this.bundleCopy(name);
    const tuf = await createFleetTuf({ ...this.fixture, storeDir: bundle }, options);
    const sim = await this.device();
    await pinRoot(sim, await tuf.read());
    return { bundle, tuf, sim };
  }
}

export function useTufAttackBench(name: string): () => TufAttackBench {
  let bench: TufAttackBench | undefined;
  beforeAll(async () => {
    const root = await mkdtemp(join(tmpdir(), `ota-tuf-attack-${name}-`));
    const fixture = await publishSampleReleases(join(root, 'pipeline'), [
      { version: '1.0.0', securityVersion: 1 },
      { version: '1.0.1', securityVersion: 1 },
    ]);
    bench = new TufAttackBench(root, fixture, await copyBundle(fixture.storeDir, join(root, 'plain-bundle')));
  }, 300_000);
  afterAll(async () => {
    if (bench) await rm(bench.root, { recursive: true, force: true });
  });
  return () => bench!;
}

export async function installFrom(sim: SimDevice, bundle: string, extra: Partial<InstallRequest> = {}) {
  const device = await sim.open();
  const source = await OfflineBundleSource.open(bundle, device.scratchDir);
  try {
    return await installUpdate(device, { source, sourceRef: bundle, full: true, ...extra });
  } finally {
    await source.close();
  }
}

/** The device verifies release 1.0.1 from `bundle` at `now` (nothing installed): it then trusts that metadata. */
export async function trustBundle(sim: SimDevice, bundle: string, now = new Date()) {
  const device = await sim.open();
  const source = await OfflineBundleSource.open(bundle, device.scratchDir);
  try {
    const candidate = (await source.release(DEVICE_HARDWARE, '1.0.1'))!;
    const agent = await device.agentState.read();
    const installed = agent.slots[await device.bootedSlot()];
    return await verifyCandidate(candidate, device.config, { hardwareId: DEVICE_HARDWARE, channel: 'stable', version: installed?.version, securityVersion: agent.securityVersion, imageSha256: installed?.sha256 }, now);
  } finally {
    await source.close();
  }
}

/** Runs the attack, which must be refused; its code and the device before and after. */
export async function refused(sim: SimDevice, attack: () => Promise<unknown>) {
  const before = await deviceFingerprint(sim);
  const error = await attack().then(
    () => undefined,
    (e: unknown) => e as Error & { code?: string },
  );
  if (!error) throw new Error('the attack was not refused');
  return { code: error.code, message: error.message, before, after: await deviceFingerprint(sim) };
}

/**
 * The manifest of `version` in `bundle`, changed by `change` (or as it is) and signed with `key` (a Sigstore
 * key bundle beside it): a release key holder or a thief re-issuing a release. Returns the new manifest bytes.
 */
export async function resignManifest(bundle: string, version: string, key: SigningKey, change?: (manifest: Record<string, unknown>) => Record<string, unknown>): Promise<Buffer> {
  const path = join(bundle, manifestKey(DEVICE_HARDWARE, version));
  const bytes = change ? Buffer.from(JSON.stringify(change(JSON.parse(await readFile(path, 'utf8'))))) : await readFile(path);
  await writeFile(path, bytes);
  await writeFile(join(bundle, manifestBundleKey(DEVICE_HARDWARE, version)), bundleToText(await signBlob({ bytes }, { mode: 'key', key })));
  return bytes;
}
