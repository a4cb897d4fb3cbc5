// Runs one job in deltas/artifact-child.mjs: forwards progress, maps an AbortSignal to SIGKILL,
// and turns crashes (signals, OOM kills, native exit()) into errors with the child's stderr.
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../platform/paths.js';
import type { ChildRunStats, DeltaPhase, JobOptions } from './types.js';

/** Resolved from the project root so sources (vitest) and dist/ share the one plain-JS child. */
export const artifactChildPath = join(projectRoot, 'deltas', 'artifact-child.mjs');

export type ArtifactJob =
  /** bsdiffTool: ota-bsdiff's path (same patch bytes as bsdiff-node, about half the memory); absent: bsdiff-node. */
  | { kind: 'diff'; oldPath: string; newPath: string; patchPath: string; bsdiffTool?: string }
  | { kind: 'apply'; oldPath: string; patchPath: string; outPath: string; maxOutputBytes: number }
  | { kind: 'compress'; imagePath: string; outPath: string; compression: 'gzip' | 'brotli'; level: number };

export class ArtifactJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArtifactJobError';
  }
}

type ChildMessage =
  | { type: 'progress'; phase: DeltaPhase; bytesDone: number; bytesTotal: number }
  | { type: 'result'; result: unknown; durationMs: number; peakRssBytes: number }
  | { type: 'error'; message: string };

const STDERR_KEEP = 4096;

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

export function runArtifactJob<R>(job: ArtifactJob, options: JobOptions = {}): Promise<{ result: R } & ChildRunStats> {
  const { signal, onProgress, progressIntervalMs = 1000 } = options;
  if (signal?.aborted) return Promise.reject(abortReason(signal));

  return new Promise((resolve, reject) => {
    // execArgv: [] so the child does not inherit the caller's loaders/inspector flags (vitest's, for one).
    const child = fork(artifactChildPath, [], { execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json' });
    let stderr = '';
    let outcome: ChildMessage | undefined;
    let aborted = false;

    const onAbort = () => {
      aborted = true;
      child.kill('SIGKILL');
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      stderr = (stderr + text).slice(-STDERR_KEEP);
    });
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'progress') {
        if (!aborted) onProgress?.({ phase: message.phase, bytesDone: message.bytesDone, bytesTotal: message.bytesTotal, pid: child.pid! });
      } else {
        outcome = message;
      }
    });
    child.on('error', (err) => {
      // Spawn failures; a 'close' may or may not follow, so settle here too (settling twice is a no-op).
      signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    child.on('close', (code, killedBy) => {
      signal?.removeEventListener('abort', onAbort);
      if (aborted) return reject(abortReason(signal!));
      if (outcome?.type === 'result') {
        return resolve({ result: outcome.result as R, durationMs: outcome.durationMs, peakRssBytes: outcome.peakRssBytes });
      }
      if (outcome?.type === 'error') return reject(new ArtifactJobError(outcome.message));
      const how = killedBy ? `was killed by ${killedBy}` : `exited with code ${code}`;
      const tail = stderr.trim() ? `: ${stderr.trim()}` : '';
      reject(new ArtifactJobError(`${job.kind} child ${how} before finishing (out of memory?)${tail}`));
    });

    child.send({ type: 'job', job, tickMs: progressIntervalMs });
  });
}
