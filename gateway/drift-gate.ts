// Where posture meets the fleet (docs/attestation.md, "Posture and drift"): for each accepted
// heartbeat that carries posture, the gateway gathers what the device should be (the desired state
// of its hardware and ring, the measurement its claimed release's signed manifest lists, the
// release its rollout had it install, the fleet's TUF versions), asks the pure driftBetween what
// differs, reconciles the drift events, and under `gateway.drift.quarantineOn` opens a quarantine
// (code DRIFT:<kind>, with the event as evidence) through the attestation machinery, which then
// limits the device to its remediation release at check-in.
import { driftBetween, type DesiredPosture, type DriftKind } from '../attestation/drift.js';
import type { DriftReconciliation, EnrolledDevice, FleetStore, QuarantineRecord } from '../fleet/fleet-store.js';
import type { Heartbeat } from '../schemas/device-api.js';
import type { ArtifactStore } from '../stores/artifact-store.js';
import { channelIndexCache } from './offer-cache.js';
import { readPinnedManifest } from './pinned-manifest.js';
import { currentTrust } from './trust-cache.js';

export interface DriftPolicy {
  /** Drift kinds that quarantine the device at once (empty: drift is recorded, never acted on). */
  quarantineOn: DriftKind[];
  /** What a drift-quarantined device is offered: a named release, the last good one, or nothing (hold). */
  remediation: { version: string } | 'last-good' | 'none';
}

export const DEFAULT_DRIFT_POLICY: DriftPolicy = { quarantineOn: [], remediation: 'last-good' };

export interface DriftOutcome {
  reconciliation: DriftReconciliation;
  /** The quarantine this heartbeat opened (undefined: none opened now). */
  quarantined?: QuarantineRecord;
}

interface DriftContext {
  fleet: FleetStore;
  store: ArtifactStore;
  drift?: DriftPolicy;
}

/** What the signed manifest of the release the device claims says it measures as (digest-checked against the index). */
async function claimedRelease(store: ArtifactStore, device: EnrolledDevice, version: string): Promise<DesiredPosture['claimedRelease']> {
  const entry = (await channelIndexCache(store).entries(device.hardwareId, device.channel)).find((e) => e.version === version);
  if (!entry) return undefined;
  const { manifest } = await readPinnedManifest(store, device.hardwareId, entry);
  return { version, imageSha256: manifest.image.sha256, ...(manifest.bootMeasurement ? { bootMeasurement: { pcr: manifest.bootMeasurement.pcr, value: manifest.bootMeasurement.value } } : {}) };
}

async function fleetTrust(store: ArtifactStore): Promise<DesiredPosture['fleetTrust']> {
  const trust = await currentTrust(store);
  return trust && { rootVersion: trust.repo.roots.length, targetsVersion: trust.repo.targets.signed.version };
}

/** Everything the device should be, gathered from the fleet store and the artifact store. */
export async function desiredPostureOf(fleet: FleetStore, store: ArtifactStore, device: EnrolledDevice, heartbeat: Pick<Heartbeat, 'releaseVersion'>): Promise<DesiredPosture> {
  const assignment = await fleet.openAssignmentFor(device.id);
  const state = await fleet.effectiveDesiredState(device.hardwareId, assignment?.ring);
  // The rollout's release counts once the device reported it committed (not while it installs).
  const installed =
    assignment && assignment.action === 'offer' && (await fleet.reportsOf(device.id, 100)).some((r) => r.releaseVersion === assignment.releaseVersion && r.state === 'committed');
  return {
    ...(state && {
      state: {
        ...(state.allowedPorts && { allowedPorts: state.allowedPorts }),
        ...(state.allowedServices && { allowedServices: state.allowedServices }),
        ...(state.configDigest && { configDigest: state.configDigest }),
        ...(state.minAgentVersion && { minAgentVersion: state.minAgentVersion }),
      },
    }),
    claimedRelease: heartbeat.releaseVersion ? await claimedRelease(store, device, heartbeat.releaseVersion) : undefined,
    ...(installed && { installedAssignment: { version: assignment.releaseVersion, rolloutId: assignment.rolloutId } }),
    fleetTrust: await fleetTrust(store),
  };
}

/**
 * The newest release this device ran other than the one it runs now: the one it attested cleanly
 * on (TPM devices), else the newest other release it heartbeated on, else the release it ran when
 * its rollout assigned it the current one. The way back from a drift.
 */
async function lastGoodRelease(fleet: FleetStore, deviceId: string, running: string | null): Promise<string | null> {
  const attested = (await fleet.attestationHistory(deviceId, 100)).find((a) => a.ok && a.releaseVersion && a.releaseVersion !== running);
  if (attested?.releaseVersion) return attested.releaseVersion;
  const beats = await fleet.heartbeatsOf(deviceId, 200);
  const beat = beats.find((h) => h.releaseVersion && h.releaseVersion !== running)?.releaseVersion;
  if (beat) return beat;
  const assignment = await fleet.openAssignmentFor(deviceId);
  return assignment?.fromVersion && assignment.fromVersion !== running ? assignment.fromVersion : null;
}

/** Judges one accepted heartbeat's posture; undefined when it carries none (older agents). */
export async function judgeDrift(ctx: DriftContext, device: EnrolledDevice, heartbeat: Heartbeat): Promise<DriftOutcome | undefined> {
  if (!heartbeat.posture) return undefined;
  const desired = await desiredPostureOf(ctx.fleet, ctx.store, device, heartbeat);
  const drifts = driftBetween(desired, { releaseVersion: heartbeat.releaseVersion, posture: heartbeat.posture });
  const reconciliation = await ctx.fleet.reconcileDrift(device.id, drifts, heartbeat.counter);
  const policy = ctx.drift;
  if (!policy?.quarantineOn.length) return { reconciliation };
  const trigger = reconciliation.open.find((e) => (policy.quarantineOn as string[]).includes(e.kind));
  if (!trigger || (await ctx.fleet.openQuarantineFor(device.id))) return { reconciliation };
  const remediation = policy.remediation === 'none' ? null : policy.remediation === 'last-good' ? await lastGoodRelease(ctx.fleet, device.id, heartbeat.releaseVersion) : policy.remediation.version;
  const quarantined = await ctx.fleet.openQuarantine({
    deviceId: device.id,
    code: `DRIFT:${trigger.kind}`,
    reason: `posture drift ${trigger.kind}${trigger.subject ? ` (${trigger.subject})` : ''} seen in heartbeat ${trigger.lastCounter ?? heartbeat.counter} on ${heartbeat.releaseVersion ?? 'a factory image'}`,
    evidence: { driftEventId: trigger.id, kind: trigger.kind, subject: trigger.subject, firstSeen: trigger.firstSeen.toISOString(), heartbeatCounter: heartbeat.counter, releaseVersion: heartbeat.releaseVersion, detail: trigger.detail },
    remediationVersion: remediation,
  });
  return { reconciliation, quarantined };
}
