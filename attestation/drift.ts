// Drift (docs/attestation.md, "Posture and drift"): how the posture a device reports in its signed
// heartbeat differs from what the fleet wants of it. Pure: the gateway gathers the desired state of
// the device's hardware (and ring), the expected measurement of the release it claims to run, its
// assigned release and the fleet's TUF versions, and this function names each difference. A fact
// the fleet states no wish about is never a drift (no desired ports: any port is fine).
import lt from 'semver/functions/lt.js';
import { DRIFT_KINDS, type Posture } from '../schemas/device-api.js';

export { DRIFT_KINDS };

export type DriftKind = (typeof DRIFT_KINDS)[number];

/** What an operator wants of the devices of one hardware id (optionally one ring): unset fields are not judged. */
export interface DesiredState {
  /** Listening sockets allowed, e.g. ["tcp/22", "udp/123"]; any other is `unknown-listening-port`. */
  allowedPorts?: string[];
  /** Services allowed to be enabled; any other is `service-unexpected`. */
  allowedServices?: string[];
  /** sha256 of the agent's canonical configuration. */
  configDigest?: string;
  /** Lowest agent version accepted (SemVer). */
  minAgentVersion?: string;
}

/** Everything the device should be, as the gateway gathered it for one heartbeat. */
export interface DesiredPosture {
  state?: DesiredState;
  /**
   * What the release the device claims to run measures as: the manifest's bootMeasurement (PCR and
   * value, for a TPM device) and its image digest (for a device that reports its slot digest).
   * Absent: the release is unknown here, nothing is judged.
   */
  claimedRelease?: { version: string; bootMeasurement?: { pcr: number; value: string }; imageSha256?: string };
  /** The release its rollout assigned and the device reported committed; it should be running it. */
  installedAssignment?: { version: string; rolloutId: string };
  /** The fleet's current TUF versions (no repository: absent). */
  fleetTrust?: { rootVersion: number; targetsVersion: number };
}

/** What the heartbeat says about the device: its running release and its posture facts. */
export interface ReportedPosture {
  releaseVersion: string | null;
  posture: Posture;
}

/** One difference. `subject` tells apart two drifts of one kind (two ports); '' when a kind has one subject. */
export interface Drift {
  kind: DriftKind;
  subject: string;
  detail: Record<string, unknown>;
}

export function driftBetween(desired: DesiredPosture, reported: ReportedPosture): Drift[] {
  const { posture } = reported;
  const drifts: Drift[] = [];
  const state = desired.state ?? {};

  if (state.allowedPorts) {
    const allowed = new Set(state.allowedPorts);
    for (const port of posture.listening) if (!allowed.has(port)) drifts.push({ kind: 'unknown-listening-port', subject: port, detail: { port, allowed: [...allowed].sort() } });
  }

  const claimed = desired.claimedRelease;
  const measured = posture.bootMeasurement;
  if (claimed && measured && claimed.version === reported.releaseVersion) {
    const expected = measured.source === 'tpm-pcr' ? (claimed.bootMeasurement?.pcr === measured.pcr ? claimed.bootMeasurement.value : undefined) : claimed.imageSha256;
    if (expected !== undefined && expected !== measured.value) {
      drifts.push({
        kind: 'unexpected-measurement',
        subject: '',
        detail: { release: claimed.version, source: measured.source, ...(measured.source === 'tpm-pcr' ? { pcr: measured.pcr } : {}), measured: measured.value, expected },
      });
    }
  }

  const assigned = desired.installedAssignment;
  if (assigned && reported.releaseVersion !== assigned.version) {
    drifts.push({ kind: 'release-mismatch', subject: '', detail: { assigned: assigned.version, rolloutId: assigned.rolloutId, running: reported.releaseVersion } });
  }

  const fleet = desired.fleetTrust;
  if (fleet && posture.trust) {
    const rootBehind = posture.trust.rootVersion < fleet.rootVersion;
    const targetsBehind = posture.trust.targetsVersion !== null && posture.trust.targetsVersion < fleet.targetsVersion;
    if (rootBehind || targetsBehind) drifts.push({ kind: 'trust-metadata-stale', subject: '', detail: { device: posture.trust, fleet } });
  }

  if (state.configDigest && posture.configDigest !== state.configDigest) {
    drifts.push({ kind: 'config-digest-mismatch', subject: '', detail: { reported: posture.configDigest, expected: state.configDigest } });
  }

  if (state.minAgentVersion && lt(posture.agentVersion, state.minAgentVersion)) {
    drifts.push({ kind: 'agent-version-old', subject: '', detail: { reported: posture.agentVersion, minimum: state.minAgentVersion } });
  }

  if (state.allowedServices) {
    const allowed = new Set(state.allowedServices);
    for (const service of posture.services) if (!allowed.has(service)) drifts.push({ kind: 'service-unexpected', subject: service, detail: { service, allowed: [...allowed].sort() } });
  }
  return drifts;
}

/** A drift's identity across heartbeats: the same kind and subject is the same open event. */
export const driftKey = (d: Pick<Drift, 'kind' | 'subject'>): string => `${d.kind}\u0000${d.subject}`;

export function isDriftKind(value: string): value is DriftKind {
  return (DRIFT_KINDS as readonly string[]).includes(value);
}
