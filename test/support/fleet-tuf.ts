// A fleet's TUF repository over the releases a test published (test/support/device-releases.ts), written
// into that local artifact store (so the gateway serves it and the folder is an offline bundle with
// tuf/), with its keys in memory; plus what the device tests need around it: pin root 1 on a simulated
// device, copy a bundle, write crafted metadata files as an attacker or a stale mirror would.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadOrCreateSigningKey } from '../../signing/keys.js';
import { LocalArtifactStore } from '../../stores/local-store.js';
import { localTrustDir } from '../../trust/local-trust.js';
import { metadataBytes } from '../../trust/metadata.js';
import { readRepository, writeRepository } from '../../trust/metadata-store.js';
import { addTarget, createRepository, type OnlineSigning, type TufExpiries, type TufRepository } from '../../trust/repository.js';
import { tufSigningKey, type TufSigningKey } from '../../trust/tuf-keys.js';
import { manifestKey } from '../../release/layout.js';
import { DEVICE_HARDWARE, sha256File, type PublishedFixture } from './device-releases.js';
import type { SimDevice } from './device-sim.js';

export interface FleetTufKeys {
  root: TufSigningKey;
  targets: TufSigningKey;
  online: TufSigningKey;
  /** The pipeline's release key: the one release signer at the start. */
  release: TufSigningKey;
}

export interface FleetTuf {
  keys: FleetTufKeys;
  store: LocalArtifactStore;
  signing(now?: Date, expiries?: TufExpiries): OnlineSigning;
  /** The repository as stored. */
  read(): Promise<TufRepository>;
  /** A change written the way `ota trust` writes it (checked, roots first, timestamp last). */
  change(update: (repo: TufRepository) => TufRepository): Promise<TufRepository>;
  close(): Promise<void>;
}

export function newTufKey(): TufSigningKey {
  return tufSigningKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
}

/** The manifest of a published release as the target a publish adds. */
export async function releaseTarget(storeDir: string, version: string, signerKeyID: string) {
  const path = manifestKey(DEVICE_HARDWARE, version);
  const bytes = await readFile(join(storeDir, path));
  return { path, length: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), signerKeyID };
}

/**
 * Creates the repository (root 1 of 1, the release key as the one signer) with every published release
 * as a target. `now` in the past makes metadata that has since expired; then it is written unchecked.
 */
export async function createFleetTuf(fixture: PublishedFixture, options: { now?: Date; expiries?: TufExpiries; versions?: string[] } = {}): Promise<FleetTuf> {
  const keys: FleetTufKeys = { root: newTufKey(), targets: newTufKey(), online: newTufKey(), release: tufSigningKey((await loadOrCreateSigningKey(fixture.signingKeyPath)).privateKey) };
  const signing = (now = new Date(), expiries?: TufExpiries): OnlineSigning => ({ targetsKeys: [keys.targets], onlineKey: keys.online, now, ...(expiries && { expiries }) });
  const at = signing(options.now, options.expiries);
  let repo = createRepository({ ...at, rootKeys: [keys.root], threshold: 1, signers: [keys.release] });
  for (const version of options.versions ?? Object.keys(fixture.releases)) repo = addTarget(repo, await releaseTarget(fixture.storeDir, version, keys.release.keyID), at);
  const store = new LocalArtifactStore(fixture.storeDir);
  if (options.now) await writeMetadataFiles(fixture.storeDir, repo);
  else await writeRepository(store, repo);
  return {
    keys,
    store,
    signing,
    read: async () => (await readRepository(store)).repo,
    async change(update) {
      const before = await readRepository(store);
      const after = update(before.repo);
      await writeRepository(store, after, before);
      return after;
    },
    close: () => store.close(),
  };
}

/** Root 1 (or the given root) in the device's trust folder, as `ota-device provision --tuf-root` puts it. */
export async function pinRoot(sim: SimDevice, repo: TufRepository, version = 1): Promise<void> {
  const dir = localTrustDir(sim.config.trust.trustedRootPath);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'root.json'), metadataBytes(repo.roots[version - 1]!));
}

/** A copy of a bundle folder (the published store) to tamper with. */
export async function copyBundle(from: string, to: string): Promise<string> {
  await cp(from, to, { recursive: true });
  return to;
}

/**
 * Writes metadata files into <bundle>/tuf/ as they are, with no check: what a stale mirror or an
 * attacker holding some keys would serve. Roots, versioned targets and snapshot, then timestamp.json.
 */
export async function writeMetadataFiles(bundle: string, repo: Partial<TufRepository>): Promise<void> {
  const dir = join(bundle, 'tuf');
  await mkdir(dir, { recursive: true });
  for (const root of repo.roots ?? []) await writeFile(join(dir, `${root.signed.version}.root.json`), metadataBytes(root));
  for (const role of ['targets', 'snapshot'] as const) {
    const metadata = repo[role];
    if (metadata) await writeFile(join(dir, `${metadata.signed.version}.${role}.json`), metadataBytes(metadata));
  }
  if (repo.timestamp) await writeFile(join(dir, 'timestamp.json'), metadataBytes(repo.timestamp));
}

/** Everything a refused install must leave as it was: both slots, the boot state, the agent state (floor), the TUF trust state. */
export async function deviceFingerprint(sim: SimDevice): Promise<Record<string, string>> {
  const files = {
    slotA: sim.config.slots.A,
    slotB: sim.config.slots.B,
    boot: sim.bootStatePath,
    agent: join(sim.config.stateDir, 'agent-state.json'),
    trust: join(sim.config.stateDir, 'tuf-trust.json'),
    pinned: join(localTrustDir(sim.config.trust.trustedRootPath), 'root.json'),
  };
  const out: Record<string, string> = {};
  for (const [name, path] of Object.entries(files)) out[name] = await sha256File(path).catch(() => 'absent');
  return out;
}
