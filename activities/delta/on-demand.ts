// The activities of deltas on demand (workflows/delta.ts): claim what gateways asked for, generate one
// ops delta from the release a device runs to the release it is offered (the release pipeline's own
// step, deltas/ops/verified-delta.ts: generated in worker processes, verified by re-applying it, never
// kept unverified), store it content-addressed, list it as a signed TUF target, and record the outcome
// in the fleet store where the gateway reads it.
import { ApplicationFailure } from '@temporalio/activity';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { generateVerifiedOpsDelta } from '../../deltas/index.js';
import type { DeltaRequest, FleetStore } from '../../fleet/fleet-store.js';
import { findPublishedManifest } from '../../release/catalog.js';
import { onDemandTargetEntry, onDemandTargetPath } from '../../release/on-demand-delta.js';
import type { Config } from '../../schemas/config.js';
import type { DeltaFormat, Manifest } from '../../schemas/manifest.js';
import type { ArtifactStore } from '../../stores/index.js';
import { hasRepository } from '../../trust/metadata-store.js';
import { TrustError } from '../../trust/errors.js';
import { cancellationSignal, heartbeat } from '../release/heartbeat.js';
import { materialize } from '../release/workspace.js';
import { addDeltaTarget } from './delta-targets.js';

/** What a deltaWorkflow is started with: one image pair of one release (plain data, in its history). */
export interface DeltaJob {
  workflowId: string;
  hardwareId: string;
  channel: string;
  fromVersion: string;
  toVersion: string;
  fromSha256: string;
  toSha256: string;
  format: DeltaFormat;
}

export type GeneratedDelta =
  | { kind: 'delta'; sha256: string; length: number; location: string; generationMs: number; fullLength: number }
  | { kind: 'skipped'; reason: string };

export interface DeltaDeps {
  config: Config;
  store: () => ArtifactStore;
  fleet: () => Promise<FleetStore>;
  workDir: string;
}

export function jobOf(r: DeltaRequest): DeltaJob {
  return { workflowId: r.workflowId, hardwareId: r.hardwareId, channel: r.channel, fromVersion: r.fromVersion, toVersion: r.toVersion, fromSha256: r.fromSha256, toSha256: r.toSha256, format: r.format as DeltaFormat };
}

const keyOf = (job: DeltaJob) => ({ hardwareId: job.hardwareId, toVersion: job.toVersion, fromSha256: job.fromSha256, format: job.format });

/** Pending requests (and stale claims), claimed for this dispatch. */
export async function claimDeltaJobs(deps: DeltaDeps, limit: number, staleAfterSeconds: number): Promise<DeltaJob[]> {
  return (await (await deps.fleet()).claimDeltaRequests(limit, staleAfterSeconds)).map(jobOf);
}

/** Why no delta can be made for this pair, read from the published manifests; undefined when one can. */
function unusablePair(job: DeltaJob, from: Manifest | undefined, to: Manifest | undefined): string | undefined {
  if (!to) return `release ${job.toVersion} of ${job.hardwareId} is not published`;
  if (to.image.sha256 !== job.toSha256) return `release ${job.toVersion} has image ${to.image.sha256}, the request names ${job.toSha256}`;
  if (!from) return `release ${job.fromVersion} of ${job.hardwareId} (the device's) is not published`;
  if (from.image.sha256 !== job.fromSha256) return `the device runs image ${job.fromSha256}, release ${job.fromVersion} has ${from.image.sha256}`;
  if (job.fromSha256 === job.toSha256) return 'source and target images are identical';
  if (to.deltas.some((d) => d.fromSha256 === job.fromSha256 && d.format === job.format)) return `the manifest of ${job.toVersion} lists a ${job.format} delta from ${job.fromVersion} already`;
  return undefined;
}

/** Generates and verifies the delta and stores it by content address (a retry stores the same key). */
export async function generateOnDemandDelta(deps: DeltaDeps, job: DeltaJob): Promise<GeneratedDelta> {
  const store = deps.store();
  // Without a TUF repository there is nothing to sign the delta with, and a device verifies nothing unsigned.
  if (!(await hasRepository(store))) return { kind: 'skipped', reason: `${store.location} has no TUF repository: an on-demand delta must be a signed target` };
  const [from, to] = [await findPublishedManifest(store, job.hardwareId, job.fromVersion), await findPublishedManifest(store, job.hardwareId, job.toVersion)];
  const reason = unusablePair(job, from?.manifest, to?.manifest);
  if (reason) return { kind: 'skipped', reason };
  const [old, next] = [from!.manifest.image, to!.manifest.image];
  const progress = (phase: string) => (bytes: number) => heartbeat({ phase, bytes });
  const oldPath = await materialize(store, deps.workDir, { key: old.location, sha256: old.sha256, gunzip: old.compression === 'gzip', onProgress: progress(`fetching ${job.fromVersion}`) });
  const newPath = await materialize(store, deps.workDir, { key: next.location, sha256: next.sha256, gunzip: next.compression === 'gzip', onProgress: progress(`fetching ${job.toVersion}`) });
  const fullLength = next.compression === 'none' ? next.length : next.compressedLength;
  const started = Date.now();
  const result = await generateVerifiedOpsDelta({
    oldImagePath: oldPath,
    newImagePath: newPath,
    outPath: join(deps.workDir, `on-demand-${job.fromSha256.slice(0, 16)}-${job.toSha256.slice(0, 16)}.ops`),
    fullCompressedLength: fullLength,
    oldSha256: job.fromSha256,
    newSha256: job.toSha256,
    scratchDir: deps.workDir,
    signal: cancellationSignal(),
    onProgress: (p: { phase: string; bytesDone: number; bytesTotal: number }) => heartbeat({ phase: `ops ${p.phase} from ${job.fromVersion}`, bytes: p.bytesDone, total: p.bytesTotal }),
  });
  if (result.status === 'skipped') return { kind: 'skipped', reason: result.reason };
  try {
    const blob = await store.putBlob(createReadStream(result.path), { expectedSha256: result.sha256 });
    return { kind: 'delta', sha256: blob.sha256, length: blob.size, location: blob.key, generationMs: Date.now() - started, fullLength };
  } finally {
    await rm(result.path, { force: true });
  }
}

/** Lists the stored delta as a signed target, then marks the request ready (the gateway offers it from then on). */
export async function publishOnDemandDelta(deps: DeltaDeps, job: DeltaJob, delta: Extract<GeneratedDelta, { kind: 'delta' }>): Promise<{ targetPath: string }> {
  const targetPath = onDemandTargetPath(job.hardwareId, job.toVersion, job.fromSha256, job.format);
  const entry = onDemandTargetEntry({ format: job.format, fromVersion: job.fromVersion, fromSha256: job.fromSha256, toSha256: job.toSha256, location: delta.location, sha256: delta.sha256, length: delta.length });
  try {
    await addDeltaTarget(deps.config, deps.store(), targetPath, entry);
  } catch (err) {
    if (err instanceof TrustError) throw ApplicationFailure.nonRetryable(err.message, err.code);
    throw err;
  }
  const detail = `${delta.length} bytes (${((100 * delta.length) / Math.max(1, delta.fullLength)).toFixed(1)}% of the full image), generated and verified in ${(delta.generationMs / 1000).toFixed(1)} s`;
  await (await deps.fleet()).recordDeltaOutcome(keyOf(job), { state: 'ready', sha256: delta.sha256, length: delta.length, location: delta.location, targetPath, generationMs: delta.generationMs, detail });
  return { targetPath };
}

/** Skipped (skip rule, unusable pair, no repository) or failed: the gateway offers the full image. */
export async function recordDeltaNotMade(deps: DeltaDeps, job: DeltaJob, state: 'skipped' | 'failed', detail: string): Promise<void> {
  await (await deps.fleet()).recordDeltaOutcome(keyOf(job), { state, detail: detail.slice(0, 2000) });
}
