// May a device assigned to a rollout be offered its release again? Not after an install, boot or
// health failure of that release in this rollout (it would fail the same way and erase nothing:
// the failure stays counted), until an operator clears it with `ota fleet retry`. Download and
// verify failures are transient (network, storage), so the release is offered again. Pure.
import type { FailureKind } from '../schemas/failure-kinds.js';

/** Failure kinds that keep the release from the device for the rest of the rollout. */
export const BLOCKING_FAILURE_KINDS: ReadonlySet<FailureKind> = new Set<FailureKind>(['install', 'boot', 'health']);

export interface AttemptFailureFact {
  kind: FailureKind;
  receivedAt: Date;
}

export type OfferEligibility = { offer: true } | { offer: false; kind: FailureKind; reason: string };

/** failures: the device's failure reports about the release since assignment (or its last retry), any order. */
export function offerEligibility(releaseVersion: string, rolloutId: string, deviceId: string, failures: readonly AttemptFailureFact[]): OfferEligibility {
  const blocking = failures.filter((f) => BLOCKING_FAILURE_KINDS.has(f.kind)).sort((a, b) => b.receivedAt.getTime() - a.receivedAt.getTime())[0];
  if (!blocking) return { offer: true };
  return {
    offer: false,
    kind: blocking.kind,
    reason: `${releaseVersion} failed on this device (${blocking.kind}, ${blocking.receivedAt.toISOString()}) in rollout ${rolloutId}; not offered again until an operator runs \`ota fleet retry ${deviceId}\``,
  };
}
