// Shapes passed between the CLI, the release workflow and its activities. Plain data only:
// everything here is recorded in the workflow history.
import type { DeltaFormat, ReleaseIndexEntry, SkippedDelta, ManifestDelta } from '../schemas/manifest.js';

/** A blob already in the artifact store (the CLI uploads inputs before starting the workflow). */
export interface StoredBlob {
  key: string;
  sha256: string;
  size: number;
}

/** SLSA provenance inputs as plain JSON (dates as ISO strings), gathered by the CLI from CI. */
export interface ProvenanceInput {
  buildType: string;
  builderId: string;
  externalParameters: Record<string, unknown>;
  internalParameters?: Record<string, unknown>;
  source?: { uri: string; revision: string };
  invocationId?: string;
  startedOn?: string;
  finishedOn?: string;
}

export interface ReleaseRequest {
  hardwareId: string;
  version: string;
  channel: string;
  /** Omitted: the highest security version already published for this hardware. */
  securityVersion?: number;
  image: StoredBlob;
  /** Original file name, recorded in the SBOM and provenance. */
  imageName: string;
  componentFiles: Array<StoredBlob & { name: string }>;
  vexStatements?: StoredBlob & { name: string };
  scanReport?: StoredBlob & { name: string };
  signing: 'key' | 'keyless';
  provenance: ProvenanceInput;
  /** How many earlier releases to delta from. */
  deltaCount: number;
  /** A delta must be smaller than this fraction of the compressed full image. */
  deltaMaxRatio: number;
  /** Manifest validity, in days. */
  validityDays: number;
  /** Activity timeouts; omitted: production defaults (release/timeouts.ts). */
  timeouts?: ReleaseTimeouts;
}

/** Activity timeouts in seconds. Tests shorten them so a killed worker's step is retried quickly. */
export interface ReleaseTimeouts {
  /** A heavy step that stops heartbeating for this long is retried (default 60). */
  heartbeatSeconds?: number;
  /** One attempt of a quick step (inspect, provenance, VEX, sign-manifest, publish; default 120). */
  quickStepSeconds?: number;
  /** One attempt of a heavy step (compress, sign, SBOM, deltas; default 7200). */
  heavyStepSeconds?: number;
}

export interface ReleaseContext {
  /** The published release of this version, if any (same hardware id). */
  existing?: { manifestKey: string; manifestSha256: string; imageSha256: string; channel: string };
  /** Every release of this hardware id on any channel (for anti-rollback). */
  published: ReleaseIndexEntry[];
  /** Releases on the same channel whose images can serve as delta bases. */
  channelReleases: ReleaseIndexEntry[];
}

export interface DeltaBase {
  version: string;
  imageSha256: string;
  imageKey: string;
  imageCompression: string;
}

/**
 * Published for every delta base, each with its own manifest entry: ops (streamed, bounded-memory,
 * resumable apply on devices) and the whole-image bsdiff that tools speaking only `bspatch` apply.
 */
export const RELEASE_DELTA_FORMATS = ['bsdiff', 'ops'] as const satisfies readonly DeltaFormat[];

export type DeltaOutcome = { kind: 'delta'; delta: ManifestDelta } | { kind: 'skipped'; skipped: SkippedDelta };

export interface ArtifactSet {
  compressedImage: StoredBlob;
  imageSignatureBundle: StoredBlob;
  provenance: StoredBlob;
  sbom: StoredBlob;
  vex: StoredBlob;
  openvex: StoredBlob;
  deltas: DeltaOutcome[];
}

export interface PublishedRelease {
  hardwareId: string;
  version: string;
  channel: string;
  manifestKey: string;
  manifestSha256: string;
  bundleKey: string;
  /** created: this run published it; existing: the same release was already there. */
  outcome: 'created' | 'existing';
  deltas: number;
  skippedDeltas: number;
}

export type StepState = 'pending' | 'running' | 'done' | 'skipped' | 'failed';

export interface ReleaseStep {
  name: string;
  state: StepState;
  detail?: string;
}

export const RELEASE_STEPS = ['inspect', 'compress', 'sign', 'provenance', 'sbom', 'vex', 'deltas', 'sign-manifest', 'publish'] as const;
