// Which gateway answer keys and fleet CA roots a device trusts (docs/device-agent.md, "Signed answers"
// and "Transport identity"). Pure. The precedence: a device that pins a TUF root and whose last verified
// walk found a device-trust document uses the document's lists, in place of its provisioned pins (the
// targets key signed them, and a rotation must be able to retire a provisioned key or root); a device
// without a TUF root, or whose verified targets carry no document, keeps its pins. Within a list any
// entry counts, so a rotation overlaps: old and new both accepted while both are listed.
import type { AnswerKey, PinnedAnswerKey } from '../gateway/answer-verification.js';
import { listedAnswerKeys } from '../gateway/answer-verification.js';
import type { GatewayTrust } from './gateway-trust.js';

export interface PinsAndList<Pin> {
  /** The device pins a TUF root (<trust folder>/tuf/root.json). */
  tufRoot: boolean;
  /** The lists of its last verified walk (gateway-trust.json), if any. */
  listed?: GatewayTrust;
  /** The provisioned pin, if any. */
  pinned?: Pin;
}

/** The keys a check-in answer must be signed by; undefined: none pinned, the plain answer is read (status warns). */
export function answerKeysToTrust({ tufRoot, listed, pinned }: PinsAndList<AnswerKey>): PinnedAnswerKey | undefined {
  if (tufRoot && listed) return listedAnswerKeys(listed.answerKeys, listed.targetsVersion);
  return pinned;
}

export interface TrustedFleetRoots {
  /** PEM root certificates; the gateway's server certificate must chain to one of them. */
  roots: string[];
  from: 'tuf' | 'pinned';
  /** The targets version that listed them (from: tuf). */
  targetsVersion?: number;
}

/** The roots the gateway's TLS certificate may chain to; undefined: none (an https gateway is FLEET_CA_NOT_PINNED). */
export function fleetRootsToTrust({ tufRoot, listed, pinned }: PinsAndList<string>): TrustedFleetRoots | undefined {
  if (tufRoot && listed && listed.fleetCaRoots.length > 0) return { roots: listed.fleetCaRoots, from: 'tuf', targetsVersion: listed.targetsVersion };
  return pinned === undefined ? undefined : { roots: [pinned], from: 'pinned' };
}
