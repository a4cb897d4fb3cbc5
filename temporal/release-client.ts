// Client side of a release: upload the inputs by content address, start (or join) the
// release workflow, and report its progress until it finishes.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy, type Client, type WorkflowHandle } from '@temporalio/client';
import type { ArtifactStore } from '../stores/index.js';
import type { SigningMode } from '../signing/signing-mode.js';
import { produceBuilderEvidence } from '../release/builder-sign.js';
import { releaseProgressQuery, releaseWorkflow } from '../workflows/release.js';
import { releaseWorkflowId } from '../release/layout.js';
import type { PublishedRelease, ReleaseRequest, ReleaseStep, StoredBlob } from '../release/types.js';

export class ReleaseInputFileError extends Error {
  override name = 'ReleaseInputFileError';
}

export async function uploadFile(store: ArtifactStore, path: string, onProgress?: (bytes: number, total: number) => void): Promise<StoredBlob & { name: string }> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new ReleaseInputFileError(`${path}: no such file`);
  }
  if (!info.isFile()) throw new ReleaseInputFileError(`${path}: not a regular file`);
  if (info.size === 0) throw new ReleaseInputFileError(`${path}: file is empty`);
  const ref = await store.putBlob(createReadStream(path), { onProgress: (bytes) => onProgress?.(bytes, info.size) });
  return { ...ref, name: basename(path) };
}

export interface ReleaseFiles {
  image: string;
  components: string[];
  vex?: string;
  scan?: string;
}

/** Everything a release request carries except the uploaded files, which buildReleaseRequest fills in. */
export type ReleaseOptions = Omit<ReleaseRequest, 'image' | 'imageName' | 'componentFiles' | 'vexStatements' | 'scanReport' | 'builder'>;

/**
 * builder: how this (build job's) process signs the image and its provenance as the builder
 * (signing/from-config.ts builderSigningModeFromConfig); undefined sends no builder evidence,
 * which the worker refuses.
 */
export async function buildReleaseRequest(
  store: ArtifactStore,
  files: ReleaseFiles,
  options: ReleaseOptions,
  onUpload?: (file: string, bytes: number, total: number) => void,
  builder?: SigningMode,
): Promise<ReleaseRequest> {
  const image = await uploadFile(store, files.image, (b, t) => onUpload?.(files.image, b, t));
  const builderEvidence = builder && (await produceBuilderEvidence(store, { path: files.image, sha256: image.sha256, name: image.name }, options, options.provenance, builder));
  const componentFiles = [];
  for (const file of files.components) componentFiles.push(await uploadFile(store, file, (b, t) => onUpload?.(file, b, t)));
  return {
    ...options,
    image: { key: image.key, sha256: image.sha256, size: image.size },
    imageName: image.name,
    componentFiles,
    vexStatements: files.vex ? await uploadFile(store, files.vex) : undefined,
    scanReport: files.scan ? await uploadFile(store, files.scan) : undefined,
    builder: builderEvidence,
  };
}

export class ReleaseInProgressError extends Error {
  override name = 'ReleaseInProgressError';
}

/**
 * Starts the workflow, or joins the one already running for this hardware and version when it
 * publishes the same image. A run in flight with another image is refused: joining it would
 * report that run's result as if this image had been published.
 */
export async function startRelease(client: Client, taskQueue: string, request: ReleaseRequest): Promise<WorkflowHandle> {
  const handle = await client.workflow.start(releaseWorkflow, {
    taskQueue,
    workflowId: releaseWorkflowId(request.hardwareId, request.version),
    args: [request],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    // A finished release may be started again: the workflow then returns the existing
    // release for the same image, or refuses a different one.
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
  });
  const history = await handle.fetchHistory();
  const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  const running = input ? defaultPayloadConverter.fromPayload<ReleaseRequest>(input as Payload) : undefined;
  if (running && running.image?.sha256 !== request.image.sha256) {
    throw new ReleaseInProgressError(
      `release ${request.hardwareId} ${request.version} is already being published with image sha256 ${running.image?.sha256} (workflow ${handle.workflowId}); this image is ${request.image.sha256}. Publish it under a new version.`,
    );
  }
  return handle;
}

export interface ProgressEvent {
  steps: ReleaseStep[];
  /** Heartbeat details of the running activity, e.g. { phase: 'diffing', bytes, total }. */
  activity?: { type: string; details?: unknown; attempt: number; lastFailure?: string };
}

/** Polls the workflow's progress query and pending activities until the result is in. */
export async function watchRelease(handle: WorkflowHandle, onProgress: (event: ProgressEvent) => void, intervalMs = 500): Promise<PublishedRelease> {
  const result = handle.result() as Promise<PublishedRelease>;
  let done = false;
  void result.finally(() => (done = true)).catch(() => undefined);
  while (!done) {
    try {
      const steps = await handle.query(releaseProgressQuery);
      const description = await handle.describe();
      const pending = description.raw.pendingActivities?.[0];
      let activity: ProgressEvent['activity'];
      if (pending) {
        const payload = pending.heartbeatDetails?.payloads?.[0]?.data;
        activity = {
          type: pending.activityType?.name ?? 'activity',
          details: payload ? JSON.parse(Buffer.from(payload).toString('utf8')) : undefined,
          attempt: pending.attempt ?? 1,
          lastFailure: pending.lastFailure?.message ?? undefined,
        };
      }
      onProgress({ steps, activity });
    } catch {
      // The query can fail while the workflow completes; the result settles the loop.
    }
    await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, intervalMs))]);
  }
  return result;
}
