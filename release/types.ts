// Shapes passed between the CLI, the release workflow and its activities. Plain data only:
// everything here is recorded in the workflow history.
import type { BootMeasurement, DeltaFormat, ReleaseIndexEntry, SkippedDelta, ManifestDelta } from '../schemas/manifest.js';
import type { ProvenanceInputs } from '../signing/provenance.js';

/** A blob already in the artifact store (the CLI uploads inputs before starting the workflow). */
export interface StoredBlob {
  key: string;
  sha256: string;
  size: number;
}

/**
 * The SLSA provenance inputs (signing/provenance.ts) as plain JSON, gathered by the CLI from CI:
 * dates as ISO strings, no extra resolved dependencies.
 */
export type ProvenanceInputsJson = Omit<ProvenanceInputs, 'dependencies' | 'startedOn' | 'finishedOn'> & { startedOn?: string; finishedOn?: string };

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
  provenance: ProvenanceInputsJson;
  /**
   * The builder's evidence, produced in the build job: without it (or if it does not verify
   * under the configured builder policy) the worker signs nothing. Optional in the type only so
   * that a request without it reaches the verify-builder step and is refused there by name.
   */
  builder?: BuilderEvidence;
  /** How many earlier releases to delta from. */
  deltaCount: number;
  /** A delta must be smaller than this fraction of the compressed full image. */
  deltaMaxRatio: number;
  /** Manifest validity, in days. */
  validityDays: number;
  /** Activity timeouts; omitted: production defaults (release/timeouts.ts). */
  timeouts?: ReleaseTimeouts;
}

/** What the builder signed, in the artifact store: referenced by key and sha256 like every input. */
export interface BuilderEvidence {
  /** Sigstore message-signature bundle over the image bytes. */
  imageSignature: StoredBlob;
  /** Sigstore DSSE bundle of the builder's SLSA v1 provenance; its subject must be the image. */
  provenance: StoredBlob;
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

/** A published manifest: where it is, the sha256 of its bytes, and what the release decisions compare. */
export interface ManifestSummary {
  manifestKey: string;
  manifestSha256: string;
  imageSha256: string;
  channel: string;
}

/** What is already published for the requested hardware id, as the inspect step found it. */
export interface PriorReleases {
  /** The published release of this version, if any (same hardware id). */
  existing?: ManifestSummary;
  /** Every release of this hardware id on any channel (for anti-rollback). */
  published: ReleaseIndexEntry[];
  /** Releases on the same channel whose images can serve as delta bases. */
  channelReleases: ReleaseIndexEntry[];
  /** The boot PCR value booting this release yields (release/boot-measurement.ts). */
  bootMeasurement?: BootMeasurement;
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
  bootMeasurement?: BootMeasurement;
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

export const RELEASE_STEPS = ['inspect', 'verify-builder', 'compress', 'sign', 'provenance', 'sbom', 'vex', 'deltas', 'sign-manifest', 'publish'] as const;
