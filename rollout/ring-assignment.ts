// Deterministic ring assignment: devices are ordered by a stable hash of (rollout id, device id),
// so re-running a rollout picks the same canaries, and different rollouts spread the risk over
// different devices. Runs in an activity: device lists belong in the fleet store, not in workflow history.
import { createHash } from 'node:crypto';

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

export function canaryOrder(rolloutId: string, deviceIds: string[]): string[] {
  return deviceIds
    .map((id) => ({ id, rank: sha256Hex(`${rolloutId}\n${id}`) }))
    .sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : a.id < b.id ? -1 : 1))
    .map((entry) => entry.id);
}

/** Splits the ordered devices into rings by cumulative targets: ring i gets devices [t(i-1), t(i)). */
export function assignRings(rolloutId: string, deviceIds: string[], cumulativeTargets: number[]): string[][] {
  const ordered = canaryOrder(rolloutId, deviceIds);
  let start = 0;
  return cumulativeTargets.map((target) => {
    const ring = ordered.slice(start, Math.max(start, target));
    start = Math.max(start, target);
    return ring;
  });
}
