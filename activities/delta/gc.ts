// Garbage collection of on-demand deltas (`ota delta gc`): the rule is release/on-demand-gc.ts. Removal
// goes in the order that never leaves a device pointed at missing bytes it could trust: the targets
// first (one new targets version for all of them, so devices stop seeing them), then the blobs, then
// the rows (the next request for a pair starts over). A dry run reads only.
import type { DeltaRequest, FleetStore } from '../../fleet/fleet-store.js';
import { readChannelIndexes } from '../../release/catalog.js';
import { chooseDeltasToCollect, type CollectPolicy } from '../../release/on-demand-gc.js';
import type { Config } from '../../schemas/config.js';
import { parseManifest } from '../../schemas/manifest.js';
import type { ArtifactStore } from '../../stores/index.js';
import { hasRepository } from '../../trust/metadata-store.js';
import { removeDeltaTargets } from './delta-targets.js';

export interface GcResult {
  dryRun: boolean;
  removed: Array<Pick<DeltaRequest, 'hardwareId' | 'toVersion' | 'fromVersion' | 'fromSha256' | 'format' | 'location' | 'length' | 'lastUsedAt'>>;
  kept: Array<{ hardwareId: string; toVersion: string; fromVersion: string; why: string }>;
  freedBytes: number;
}

/** Every store location the published manifests of these hardware ids list. */
async function manifestLocations(store: ArtifactStore, hardwareIds: Iterable<string>): Promise<Set<string>> {
  const locations = new Set<string>();
  for (const hw of hardwareIds) {
    for (const entries of (await readChannelIndexes(store, hw)).values()) {
      for (const entry of entries) {
        const m = parseManifest(await store.getBytes(entry.manifest.location), { ignoreUnknownDeltaFormats: true });
        locations.add(m.image.location);
        for (const d of m.deltas) locations.add(d.location);
      }
    }
  }
  return locations;
}

export async function collectOnDemandDeltas(deps: { config: Config; store: ArtifactStore; fleet: FleetStore }, policy: CollectPolicy & { dryRun: boolean }): Promise<GcResult> {
  const ready = await deps.fleet.listDeltaRequests({ state: 'ready' });
  const listed = await manifestLocations(deps.store, new Set(ready.map((d) => d.hardwareId)));
  const decision = chooseDeltasToCollect(ready, policy, listed);
  const result: GcResult = {
    dryRun: policy.dryRun,
    removed: decision.remove.map(({ hardwareId, toVersion, fromVersion, fromSha256, format, location, length, lastUsedAt }) => ({ hardwareId, toVersion, fromVersion, fromSha256, format, location, length, lastUsedAt })),
    kept: decision.keep.map(({ delta, why }) => ({ hardwareId: delta.hardwareId, toVersion: delta.toVersion, fromVersion: delta.fromVersion, why })),
    freedBytes: decision.remove.reduce((sum, d) => sum + (d.length ?? 0), 0),
  };
  if (policy.dryRun || decision.remove.length === 0) return result;
  const paths = decision.remove.flatMap((d) => (d.targetPath ? [d.targetPath] : []));
  if (paths.length > 0 && (await hasRepository(deps.store))) await removeDeltaTargets(deps.config, deps.store, paths);
  for (const d of decision.remove) {
    if (d.location) await deps.store.delete(d.location);
    await deps.fleet.removeDeltaRequest({ hardwareId: d.hardwareId, toVersion: d.toVersion, fromSha256: d.fromSha256, format: d.format });
  }
  return result;
}
