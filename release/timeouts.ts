// Activity timeouts of the release workflow. Production keeps the defaults; a request may
// shorten them (tests that kill a worker mid-step must not wait a minute for the retry).
// Pure and clamped, so a silly value can never wedge the workflow in a failing task.
import type { ReleaseTimeouts } from './types.js';

export interface ResolvedReleaseTimeouts {
  heartbeatSeconds: number;
  quickStepSeconds: number;
  heavyStepSeconds: number;
}

export const DEFAULT_RELEASE_TIMEOUTS: ResolvedReleaseTimeouts = {
  /** A heavy step whose worker stops heartbeating for a minute is retried on another worker. */
  heartbeatSeconds: 60,
  quickStepSeconds: 120,
  heavyStepSeconds: 2 * 60 * 60,
};

const LIMITS: Record<keyof ResolvedReleaseTimeouts, [number, number]> = {
  heartbeatSeconds: [1, 600],
  quickStepSeconds: [1, 3600],
  heavyStepSeconds: [10, 24 * 60 * 60],
};

export function resolveReleaseTimeouts(requested: ReleaseTimeouts | undefined): ResolvedReleaseTimeouts {
  const resolved = { ...DEFAULT_RELEASE_TIMEOUTS };
  for (const key of Object.keys(LIMITS) as (keyof ResolvedReleaseTimeouts)[]) {
    const value = requested?.[key];
    if (typeof value !== 'number' || !Number.isFinite(value)) continue;
    const [min, max] = LIMITS[key];
    resolved[key] = Math.min(max, Math.max(min, value));
  }
  return resolved;
}
