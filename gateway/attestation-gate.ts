// Where attestation meets the fleet: a device's standing from its stored evidence (the pure
// attestationStanding), quarantine opened when the standing says so (once, with its evidence and
// the remediation release), and what a quarantined device is offered at check-in: only the
// remediation release (the last one it attested cleanly on, or the one the policy names), never a
// rollout's release.
import { attestationStanding, type AttestationPolicy, type Standing } from '../attestation/standing.js';
import type { AllowedMeasurement } from '../attestation/verify-quote.js';
import type { EnrolledDevice, FleetStore, QuarantineRecord } from '../fleet/fleet-store.js';
import type { CheckinRequest, CheckinResponse } from '../schemas/device-api.js';
import type { ReleaseIndexEntry } from '../schemas/manifest.js';
import type { ArtifactStore } from '../stores/artifact-store.js';
import { channelIndexCache } from './offer-cache.js';
import { readPinnedManifest } from './pinned-manifest.js';

/** The device's standing now, from what the fleet store holds. */
export async function deviceStanding(fleet: FleetStore, policy: AttestationPolicy, device: EnrolledDevice, now = new Date()): Promise<Standing> {
  const key = await fleet.getAttestationKey(device.id);
  const latest = await fleet.latestAttestation(device.id);
  return attestationStanding(
    policy,
    {
      assurance: key ? 'tpm' : 'software',
      since: key?.registeredAt ?? device.enrolledAt,
      latest: latest && { at: latest.at, ok: latest.ok, code: latest.code ?? undefined, detail: latest.detail ?? undefined },
      releasedAt: await fleet.lastQuarantineRelease(device.id),
    },
    now,
  );
}

/** Opens a quarantine when the standing is one (kept open until an operator releases it); returns the open quarantine, if any. */
export async function enforceStanding(fleet: FleetStore, policy: AttestationPolicy, device: EnrolledDevice, now = new Date()): Promise<QuarantineRecord | undefined> {
  const open = await fleet.openQuarantineFor(device.id);
  if (open) return open;
  const standing = await deviceStanding(fleet, policy, device, now);
  if (standing.standing !== 'quarantine') return undefined;
  const latest = await fleet.latestAttestation(device.id);
  const remediation = policy.remediation === 'last-good' ? await lastGoodRelease(fleet, device.id) : policy.remediation.version;
  return fleet.openQuarantine({
    deviceId: device.id,
    code: standing.failure ? `${standing.code}:${standing.failure}` : standing.code,
    reason: standing.reason,
    evidence: latest ? { attestationId: latest.id, at: latest.at.toISOString(), ok: latest.ok, code: latest.code, ...latest.evidence } : {},
    remediationVersion: remediation,
  });
}

/**
 * The newest release this device attested cleanly on other than the one it claims to run now (that
 * one's slot is what failed): the way back a quarantined device is offered under 'last-good'.
 */
async function lastGoodRelease(fleet: FleetStore, deviceId: string): Promise<string | null> {
  const running = (await fleet.getDeviceWithState(deviceId))?.state.currentVersion ?? null;
  const good = (await fleet.attestationHistory(deviceId, 100)).find((a) => a.ok && a.releaseVersion && a.releaseVersion !== running);
  return good?.releaseVersion ?? null;
}

export type DescribeRelease = (entry: ReleaseIndexEntry) => Promise<{ release?: unknown; artifact?: unknown; imageSha256?: string; waiting?: string }>;

/** The only answer a quarantined device gets: return to the remediation release, or hold. */
export async function quarantineAnswer(quarantine: QuarantineRecord, entries: ReleaseIndexEntry[], checkin: CheckinRequest, describe: DescribeRelease, poll: number): Promise<CheckinResponse> {
  const why = `quarantined since ${quarantine.since.toISOString()} (${quarantine.code}): ${quarantine.reason}`;
  const target = quarantine.remediationVersion;
  const hold = (more: string): CheckinResponse => ({ action: 'hold', reason: `${why}; ${more}`, pollAfterSeconds: poll });
  if (!target) return hold('no remediation release is known; an operator must remediate and run `ota fleet quarantine release`');
  if (checkin.currentVersion === target) return hold(`runs the remediation release ${target}; waiting for an operator's \`ota fleet quarantine release ${quarantine.deviceId}\``);
  const entry = entries.find((e) => e.version === target);
  if (!entry) return hold(`remediation release ${target} is not in the channel index`);
  // The device would refuse it (SECURITY_VERSION_DOWNGRADE) and ask again at every check-in.
  if (entry.securityVersion < checkin.securityVersion) {
    return hold(`remediation release ${target} has security version ${entry.securityVersion}, below this device's floor ${checkin.securityVersion}; name one at or above it in gateway.attestation.remediation`);
  }
  const described = await describe(entry);
  if (!described.release || described.waiting) return hold(`remediation release ${target} cannot be offered now${described.waiting ? ` (${described.waiting})` : ''}`);
  return {
    action: 'rollback',
    reason: `${why}; remediation: return to ${target}`,
    targetVersion: target,
    ...(described.imageSha256 ? { targetImageSha256: described.imageSha256 } : {}),
    release: described.release,
    ...(described.artifact ? { artifact: described.artifact } : {}),
    pollAfterSeconds: poll,
  } as CheckinResponse;
}

/**
 * The boot measurements of the releases this device may run: its channel's releases at or above
 * its stored security version, whose signed manifests list a bootMeasurement (manifest bytes
 * checked against the digest the index pins, as for offers).
 */
export async function allowedMeasurements(store: ArtifactStore, device: EnrolledDevice, securityFloor: number): Promise<AllowedMeasurement[]> {
  const entries = await channelIndexCache(store).entries(device.hardwareId, device.channel);
  const allowed: AllowedMeasurement[] = [];
  for (const entry of entries.filter((e) => e.securityVersion >= securityFloor)) {
    const measurement = (await readPinnedManifest(store, device.hardwareId, entry)).manifest.bootMeasurement;
    if (measurement) allowed.push({ version: entry.version, pcr: measurement.pcr, value: measurement.value });
  }
  return allowed;
}
