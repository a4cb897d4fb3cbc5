// Activities: the only door from workflows to the world (stores, signing, fleet, deltas).
// They are built from the loaded configuration, so workflows never see config or clients.
import { FleetStore } from '../fleet/index.js';
import type { Config } from '../schemas/config.js';
import type { DeltaFormat, Manifest, ReleaseIndexEntry } from '../schemas/manifest.js';
import type { ReleaseRequest, StoredBlob } from '../release/types.js';
import { describeWorker } from './health.js';
import { compressImage } from './release/compress.js';
import { ReleaseActivityDeps } from './release/activity-deps.js';
import { generateDelta } from './release/deltas.js';
import { generateSbom, generateVex, type SbomOutcome } from './release/evidence.js';
import { inspectRelease } from './release/inspect.js';
import { attestProvenance } from './release/provenance.js';
import { completeExistingRelease, publishRelease } from './release/publish.js';
import { signImage, signManifest } from './release/sign.js';
import { verifyBuilder } from './release/verify-builder.js';
import { rolloutActivities } from './rollout/rollout-activities.js';
import { refreshTrustMetadata, type TrustRefreshInput } from './trust/refresh.js';
import { claimDeltaJobs, generateOnDemandDelta, publishOnDemandDelta, recordDeltaNotMade, type DeltaJob, type GeneratedDelta } from './delta/on-demand.js';

export type { WorkerDescription } from './health.js';
export type { SbomOutcome, VexOutcome } from './release/evidence.js';

export interface SharedResources {
  /** One fleet store per process: PGlite (the embedded default) allows a single opener. */
  fleet?: () => Promise<FleetStore>;
}

export function createActivities(config: Config, shared: SharedResources = {}) {
  const ctx = new ReleaseActivityDeps(config);
  let fleet: Promise<FleetStore> | undefined;
  const openFleet = shared.fleet ?? (() => (fleet ??= FleetStore.open(config.fleet.databaseUrl)));
  return {
    ...rolloutActivities({ fleet: openFleet, store: () => ctx.store }),
    describeWorker,
    inspectRelease: (request: ReleaseRequest) => inspectRelease(ctx, request),
    completeExistingRelease: (hardwareId: string, version: string) => completeExistingRelease(ctx, hardwareId, version),
    verifyBuilder: (request: ReleaseRequest) => verifyBuilder(ctx, request),
    compressImage: (image: StoredBlob) => compressImage(ctx, image),
    signImage: (request: ReleaseRequest) => signImage(ctx, request),
    attestProvenance: (request: ReleaseRequest) => attestProvenance(ctx, request),
    generateSbom: (request: ReleaseRequest, created: string) => generateSbom(ctx, request, created),
    generateVex: (request: ReleaseRequest, sbom: SbomOutcome, created: string) => generateVex(ctx, request, sbom, created),
    generateDelta: (request: ReleaseRequest, base: ReleaseIndexEntry, compressed: StoredBlob, format?: DeltaFormat) => generateDelta(ctx, request, base, compressed, format),
    signManifest: (manifest: Manifest, mode: 'key' | 'keyless') => signManifest(ctx, manifest, mode),
    publishRelease: (manifest: Manifest, bundleText: string) => publishRelease(ctx, manifest, bundleText),
    refreshTrustMetadata: (input: TrustRefreshInput) => refreshTrustMetadata(config, ctx.store, input),
    ...onDemandDeltaActivities({ config, store: () => ctx.store, fleet: openFleet, workDir: ctx.workDir }),
  };
}

export type Activities = ReturnType<typeof createActivities>;

/** Deltas on demand (activities/delta/, workflows/delta.ts). */
function onDemandDeltaActivities(deps: Parameters<typeof generateOnDemandDelta>[0]) {
  return {
    claimDeltaJobs: (limit: number, staleAfterSeconds: number) => claimDeltaJobs(deps, limit, staleAfterSeconds),
    generateOnDemandDelta: (job: DeltaJob) => generateOnDemandDelta(deps, job),
    publishOnDemandDelta: (job: DeltaJob, delta: Extract<GeneratedDelta, { kind: 'delta' }>) => publishOnDemandDelta(deps, job, delta),
    recordDeltaNotMade: (job: DeltaJob, state: 'skipped' | 'failed', detail: string) => recordDeltaNotMade(deps, job, state, detail),
  };
}
