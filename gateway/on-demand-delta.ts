// Does this check-in need an on-demand delta (docs/deltas.md, "On demand")? A device that runs a
// release older than the last K has no delta from its image in the manifest: the gateway asks for one
// (a row in the fleet store that the worker's dispatcher turns into one deltaWorkflow per image pair)
// and, while it is generated, offers the full image or tells the device to come back, by policy.
// `onDemandDecision` is the pure rule; `onDemandOffer` gathers its inputs and carries it out.
import type { EnrolledDevice, FleetStore } from '../fleet/fleet-store.js';
import type { DeltaRequest } from '../fleet/delta-requests.js';
import { deltaWorkflowId } from '../release/on-demand-delta.js';
import type { ArtifactHint } from '../schemas/device-api.js';
import type { DeltaFormat, UpdateChoice } from '../schemas/manifest.js';

export interface OnDemandDeltaPolicy {
  enabled: boolean;
  /** While the delta is generated: offer the full image now, or tell the device to check in again. */
  whileGenerating: 'full' | 'retry-later';
  /** The poll interval of a retry-later answer (never longer than the gateway's own poll interval). */
  retryAfterSeconds: number;
}

/** The one format on-demand deltas are made in: streamed, bounded memory, resumable on the device. */
export const ON_DEMAND_FORMAT: DeltaFormat = 'ops';

export interface OnDemandInput {
  policy: OnDemandDeltaPolicy | undefined;
  choice: UpdateChoice;
  /** Formats the device named that this gateway knows. */
  supportedFormats: readonly DeltaFormat[];
  /** The offered release is newer than what the device runs (rollbacks get no on-demand delta). */
  upgrade: boolean;
  /** The row for this image pair, if any check-in asked before. */
  request: Pick<DeltaRequest, 'state' | 'sha256' | 'length' | 'location'> | undefined;
  pollAfterSeconds: number;
}

export type OnDemandDecision =
  | { kind: 'not-needed' }
  | { kind: 'offer'; sha256: string; length: number; location: string }
  /** Ask (request) or keep waiting (wait), and meanwhile offer the full image or say come back. */
  | { kind: 'request' | 'wait'; meanwhile: 'full' }
  | { kind: 'request' | 'wait'; meanwhile: 'retry-later'; pollAfterSeconds: number };

export function onDemandDecision(input: OnDemandInput): OnDemandDecision {
  const { policy, choice, request } = input;
  if (!policy?.enabled || !input.upgrade) return { kind: 'not-needed' };
  // Only a device whose image the manifest has no delta from; an unknown image or a device that
  // applies no ops deltas gets the full image as before.
  if (choice.kind !== 'full' || choice.reason !== 'no-delta-from-installed-image') return { kind: 'not-needed' };
  if (!input.supportedFormats.includes(ON_DEMAND_FORMAT)) return { kind: 'not-needed' };
  if (request?.state === 'ready' && request.sha256 && request.location && request.length !== null) {
    return { kind: 'offer', sha256: request.sha256, length: request.length, location: request.location };
  }
  // Not smaller than the full image (skip rule), or generation failed: the full image it is.
  if (request?.state === 'skipped' || request?.state === 'failed') return { kind: 'not-needed' };
  const kind = request ? 'wait' : 'request';
  if (policy.whileGenerating === 'full') return { kind, meanwhile: 'full' };
  const pollAfterSeconds = Math.max(1, Math.min(policy.retryAfterSeconds, input.pollAfterSeconds));
  return { kind, meanwhile: 'retry-later', pollAfterSeconds };
}

export interface OnDemandContext {
  fleet: FleetStore;
  policy?: OnDemandDeltaPolicy;
  pollAfterSeconds: number;
}

export interface OfferedRelease {
  version: string;
  imageSha256: string;
}

export type OnDemandOffer =
  | { kind: 'artifact'; artifact: ArtifactHint }
  | { kind: 'retry-later'; reason: string; pollAfterSeconds: number }
  | undefined;

/**
 * Carries out the decision for one check-in: asks for the delta (one row per image pair, however
 * many devices ask), counts an offered delta as used (garbage collection goes by it), and returns the
 * hint or the retry-later answer. Undefined: answer as without on-demand deltas.
 */
export async function onDemandOffer(
  ctx: OnDemandContext,
  device: EnrolledDevice,
  release: OfferedRelease,
  checkin: { currentVersion: string | null; imageSha256: string },
  choice: UpdateChoice,
  supportedFormats: readonly DeltaFormat[],
  upgrade: boolean,
  downloadUrl: (location: string) => string,
): Promise<OnDemandOffer> {
  if (!ctx.policy?.enabled || !checkin.currentVersion) return undefined;
  const key = { hardwareId: device.hardwareId, toVersion: release.version, fromSha256: checkin.imageSha256.toLowerCase(), format: ON_DEMAND_FORMAT };
  const request = choice.kind === 'full' ? await ctx.fleet.getDeltaRequest(key) : undefined;
  const decision = onDemandDecision({ policy: ctx.policy, choice, supportedFormats, upgrade, request, pollAfterSeconds: ctx.pollAfterSeconds });
  if (decision.kind === 'not-needed') return undefined;
  if (decision.kind === 'offer') {
    await ctx.fleet.touchDeltaRequest(key);
    return { kind: 'artifact', artifact: { kind: 'delta', url: downloadUrl(decision.location), sha256: decision.sha256, length: decision.length, fromVersion: checkin.currentVersion, format: ON_DEMAND_FORMAT } };
  }
  if (decision.kind === 'request') {
    await ctx.fleet.requestDelta({ ...key, channel: device.channel, fromVersion: checkin.currentVersion, toSha256: release.imageSha256, workflowId: deltaWorkflowId(key.fromSha256, release.imageSha256) });
  }
  if (decision.meanwhile === 'full') return undefined;
  return { kind: 'retry-later', reason: `a delta from ${checkin.currentVersion} to ${release.version} is being generated; check in again in ${decision.pollAfterSeconds} s`, pollAfterSeconds: decision.pollAfterSeconds };
}
