// Shared shapes for delta and image generation: progress events (for Temporal heartbeats)
// and per-job resource figures.

/** reading: hashing inputs; diffing: bsdiff; patching: bspatch; verifying: re-applying a fresh delta. */
export type DeltaPhase = 'reading' | 'diffing' | 'hashing' | 'compressing' | 'patching' | 'verifying';

export interface DeltaProgress {
  phase: DeltaPhase;
  bytesDone: number;
  bytesTotal: number;
  /** The child process doing the work. */
  pid: number;
  /** Which base a delta step is for, when one call makes several (test/support/release-artifacts.ts). */
  fromVersion?: string;
}

export type ProgressListener = (progress: DeltaProgress) => void;

export interface JobOptions {
  /** Aborting kills the child at once and removes partial outputs. */
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  /** The child repeats its latest progress at least this often, even in silent native phases (default 1000 ms). */
  progressIntervalMs?: number;
}

/** Measured for each child process run. */
export interface ChildRunStats {
  /** Wall time of the job inside the child. */
  durationMs: number;
  /** Peak resident set size of the child alone (VmHWM on Linux; getrusage maxRSS would include the parent's RSS at spawn). */
  peakRssBytes: number;
}
