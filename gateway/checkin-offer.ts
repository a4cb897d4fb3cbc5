// What a device should do after a check-in. Rollout assignments win (offer, hold, rollback); with
// none, the device gets the newest release of its hardware and channel that is newer than what it
// runs, except releases held back by an unfinished rollout. The manifest is read here only to hint
// which artifact to fetch; the device verifies the signed manifest itself and decides.
import type { EnrolledDevice, FleetStore } from '../fleet/fleet-store.js';
import type { OfferFacts } from '../fleet/offer-facts.js';
import { channelIndexCache } from './offer-cache.js';
import { readPinnedManifest } from './pinned-manifest.js';
import { manifestBundleKey, manifestKey } from '../release/layout.js';
import { compareSemver } from '../release/semver.js';
import type { ArtifactHint, CheckinRequest, CheckinResponse } from '../schemas/device-api.js';
import { chooseUpdateArtifact, deltaFormatSchema, type DeltaFormat, type ReleaseIndexEntry } from '../schemas/manifest.js';
import type { LocalTrustRootJSON } from '../signing/trust-root.js';
import type { ArtifactStore } from '../stores/artifact-store.js';
import { approvalsMissing } from './release-approvals.js';
import { lateJoinRing } from './late-join.js';
import { offerEligibility } from './offer-eligibility.js';
import { enforceStanding, quarantineAnswer } from './attestation-gate.js';
import type { AttestationPolicy } from '../attestation/standing.js';
import { onDemandOffer, type OnDemandDeltaPolicy } from './on-demand-delta.js';

export type ReleasePolicy = 'rollouts' | 'newest';

export interface OfferContext {
  fleet: FleetStore;
  store: ArtifactStore;
  pollAfterSeconds: number;
  /** Without an assignment: only releases a finished rollout released, or the newest published. */
  releasePolicy?: ReleasePolicy;
  /** With a policy, a quarantined device gets only its remediation release (gateway/attestation-gate.ts). */
  attestation?: AttestationPolicy;
  /** Deltas on demand for devices older than the last K releases (gateway/on-demand-delta.ts); default off. */
  onDemandDeltas?: OnDemandDeltaPolicy;
  /** The fleet's Sigstore trust root: keyless approvals count only when their bundles verify against it. */
  sigstoreTrustRoot?: LocalTrustRootJSON;
}

type ReleaseRef = Extract<CheckinResponse, { action: 'update' }>['release'];

/** A location in a manifest (store key or URL) as a URL the device can fetch. */
export function downloadUrl(location: string): string {
  return /^https?:\/\//.test(location) ? location : `/v1/artifacts/${location}`;
}

async function describeRelease(ctx: OfferContext, device: EnrolledDevice, entry: ReleaseIndexEntry, checkin: CheckinRequest) {
  const { bytes, manifest } = await readPinnedManifest(ctx.store, device.hardwareId, entry);
  const waiting = await approvalsMissing(ctx.store, entry.manifest.location, bytes, manifest.channel, ctx.sigstoreTrustRoot);
  if (waiting) return { waiting };
  const known = checkin.supportedDeltaFormats.filter((f): f is DeltaFormat => deltaFormatSchema.safeParse(f).success);
  const choice = chooseUpdateArtifact(manifest, checkin.imageSha256, known);
  let artifact: ArtifactHint | undefined;
  if (choice.kind === 'delta') {
    artifact = { kind: 'delta', url: downloadUrl(choice.delta.location), sha256: choice.delta.sha256, length: choice.delta.length, fromVersion: choice.delta.fromVersion, format: choice.delta.format };
  } else if (choice.kind === 'full') {
    const image = choice.image;
    artifact = { kind: 'full', url: downloadUrl(image.location), sha256: image.compression === 'none' ? image.sha256 : image.compressedSha256, length: choice.downloadLength };
  }
  const upgrade = checkin.currentVersion !== null && compareSemver(entry.version, checkin.currentVersion) > 0;
  const onDemand = await onDemandOffer({ fleet: ctx.fleet, policy: ctx.onDemandDeltas, pollAfterSeconds: ctx.pollAfterSeconds }, device, { version: entry.version, imageSha256: manifest.image.sha256 }, checkin, choice, known, upgrade, downloadUrl);
  if (onDemand?.kind === 'retry-later') return { retryLater: onDemand };
  if (onDemand?.kind === 'artifact') artifact = onDemand.artifact;
  const release: ReleaseRef = {
    hardwareId: device.hardwareId,
    channel: device.channel,
    version: entry.version,
    securityVersion: entry.securityVersion,
    manifestUrl: `/v1/${manifestKey(device.hardwareId, entry.version)}`,
    bundleUrl: `/v1/${manifestBundleKey(device.hardwareId, entry.version)}`,
  };
  return { release, artifact, imageSha256: manifest.image.sha256 };
}

/** No offer: the device runs that image already, or the release waits for approvals (two-person). */
function noOffer(none: CheckinResponse, described: { waiting?: string; retryLater?: { reason: string; pollAfterSeconds: number } }, rolloutId?: string): CheckinResponse {
  // An on-demand delta being generated: come back sooner than the usual poll (gateway/on-demand-delta.ts).
  if (described.retryLater) return { action: 'none', reason: described.retryLater.reason, pollAfterSeconds: described.retryLater.pollAfterSeconds, ...(rolloutId && { rolloutId }) };
  return described.waiting ? { ...none, reason: `not offered yet: ${described.waiting}`, ...(rolloutId && { rolloutId }) } as CheckinResponse : none;
}

/** `facts`: the device's offer facts when the caller has read them already (with the check-in's nonce spent). */
export async function decideCheckin(ctx: OfferContext, device: EnrolledDevice, checkin: CheckinRequest, facts?: OfferFacts): Promise<CheckinResponse> {
  const poll = ctx.pollAfterSeconds;
  const none: CheckinResponse = { action: 'none', pollAfterSeconds: poll };
  const entries = await channelIndexCache(ctx.store).entries(device.hardwareId, device.channel);
  const entryFor = (version: string) => entries.find((e) => e.version === version);
  const quarantine = ctx.attestation && (await enforceStanding(ctx.fleet, ctx.attestation, device));
  if (quarantine) return quarantineAnswer(quarantine, entries, checkin, (entry) => describeRelease(ctx, device, entry, checkin), poll);

  // The rollout tables' answers for this device in one statement; the late-join path reads more, only when it may apply.
  facts ??= await ctx.fleet.offerFacts(device);
  const assignment = facts.assignment ?? (facts.joinable ? await joinLate(ctx.fleet, device) : undefined);
  if (assignment) {
    const rolloutId = assignment.rolloutId;
    const onRelease = checkin.currentVersion === assignment.releaseVersion;
    if (assignment.action === 'hold' || (assignment.action === 'rollback' && !onRelease)) {
      return { action: 'hold', reason: assignment.reason ?? `rollout ${rolloutId} holds this device`, rolloutId, pollAfterSeconds: poll };
    }
    if (assignment.action === 'rollback') {
      // Each device returns to the release it ran when assigned, where that is published and its
      // anti-rollback floor allows it; otherwise to the rollout's previous release.
      const own = assignment.fromVersion ? entryFor(assignment.fromVersion) : undefined;
      const target = own && own.securityVersion >= checkin.securityVersion ? own.version : assignment.previousVersion;
      if (!target) return { action: 'hold', reason: `rollout ${rolloutId} is rolling back but names no previous release`, rolloutId, pollAfterSeconds: poll };
      const entry = entryFor(target);
      const described = entry ? await describeRelease(ctx, device, entry, checkin) : undefined;
      return {
        action: 'rollback',
        reason: assignment.reason ?? `rollout ${rolloutId} is rolling back ${assignment.releaseVersion}`,
        rolloutId,
        targetVersion: target,
        ...(described ? { targetImageSha256: described.imageSha256, release: described.release, ...(described.artifact ? { artifact: described.artifact } : {}) } : {}),
        pollAfterSeconds: poll,
      };
    }
    if (onRelease) return none;
    // A device whose install, boot or health check failed with this release is not offered it again
    // in this rollout (the failure stays counted) until an operator clears it: ota fleet retry.
    const eligibility = offerEligibility(assignment.releaseVersion, rolloutId, device.id, await ctx.fleet.attemptFailures(rolloutId, device.id));
    if (!eligibility.offer) return { action: 'none', reason: eligibility.reason, rolloutId, pollAfterSeconds: poll };
    // Install slots: with maxConcurrentInstalls devices mid-install, the rest wait for a slot and
    // simply check in again. The asking device is left out of the count: it may hold a slot already.
    const limit = assignment.maxConcurrentInstalls;
    if (limit !== null) {
      const busy = await ctx.fleet.installsInProgress(rolloutId, device.id);
      if (busy >= limit) return { action: 'hold', reason: `install slots busy (${busy} of ${limit} in progress); retry later`, rolloutId, pollAfterSeconds: poll };
    }
    const entry = entryFor(assignment.releaseVersion);
    if (!entry) return { action: 'hold', reason: `release ${assignment.releaseVersion} of rollout ${rolloutId} is not in the ${device.channel} index`, rolloutId, pollAfterSeconds: poll };
    const described = await describeRelease(ctx, device, entry, checkin);
    if (!described.artifact) return noOffer(none, described, rolloutId);
    await ctx.fleet.markOffered(rolloutId, device.id);
    return { action: 'update', release: described.release, artifact: described.artifact, rolloutId, pollAfterSeconds: poll };
  }

  const gated = facts.gated;
  const released = ctx.releasePolicy === 'rollouts' ? facts.released : undefined;
  const blocked = blockedByFinishedRollouts(facts.finishedFailures, device.id);
  const candidates = entries
    .filter((e) => !gated.has(e.version))
    .filter((e) => !released || released.has(e.version))
    .filter((e) => checkin.currentVersion === null || compareSemver(e.version, checkin.currentVersion) > 0)
    // The device refuses a lower security version anyway; do not make it download one.
    .filter((e) => e.securityVersion >= checkin.securityVersion)
    .sort((a, b) => compareSemver(b.version, a.version));
  const newest = candidates.find((e) => !blocked.has(e.version));
  if (!newest) return candidates[0] ? { action: 'none', reason: blocked.get(candidates[0].version)!, pollAfterSeconds: poll } : none;
  const described = await describeRelease(ctx, device, newest, checkin);
  if (!described.artifact) return noOffer(none, described); // already runs that image, or waits for approvals
  return { action: 'update', release: described.release, artifact: described.artifact, pollAfterSeconds: poll };
}

/**
 * Releases of finished rollouts whose install, boot or health check failed on the device (not
 * cleared by `ota fleet retry`), with the reason: the rollout's block holds after it finished.
 */
function blockedByFinishedRollouts(failures: OfferFacts['finishedFailures'], deviceId: string): Map<string, string> {
  const blocked = new Map<string, string>();
  for (const f of failures) {
    if (blocked.has(f.releaseVersion)) continue;
    const eligibility = offerEligibility(f.releaseVersion, f.rolloutId, deviceId, failures.filter((g) => g.rolloutId === f.rolloutId && g.releaseVersion === f.releaseVersion));
    if (!eligibility.offer) blocked.set(f.releaseVersion, eligibility.reason);
  }
  return blocked;
}

/**
 * A device with no assignment that an open rollout of its hardware and channel targets joins it
 * now, in the ring the plan gives it (gateway/late-join.ts), and is then answered as a member.
 */
async function joinLate(fleet: FleetStore, device: EnrolledDevice) {
  const rollout = await fleet.rolloutToJoin(device);
  if (!rollout) return undefined;
  const rings = await fleet.rolloutRings(rollout.id);
  const join = lateJoinRing(
    rings.map((r) => ({ name: r.name, size: r.size, labels: r.labels, assigned: r.assigned, opened: r.openedAt !== null })),
    device.labels,
    rollout.state === 'active',
    await fleet.targetedDevices(rollout.id),
    rollout.exposureBudget ?? undefined,
  );
  if (!join) return undefined;
  const added = await fleet.assignDevices(rollout.id, [{ deviceId: device.id, ring: join.ring }], join.action);
  if (added > 0 && join.action === 'hold') {
    await fleet.setAssignmentAction(rollout.id, 'hold', { deviceIds: [device.id], reason: `joined ring ${join.ring} of rollout ${rollout.id} late; it waits for the ring to open` });
    // openRing records the opening before it offers the ring: a ring that opened while this device
    // joined is seen here, or its offer saw the device.
    const [now, ring] = [await fleet.getRollout(rollout.id), (await fleet.rolloutRings(rollout.id)).find((r) => r.name === join.ring)];
    if (now?.state === 'active' && ring?.openedAt) await fleet.setAssignmentAction(rollout.id, 'offer', { deviceIds: [device.id], reason: `ring ${join.ring} opened` });
  }
  return fleet.openAssignmentFor(device.id);
}
