// Dynamic membership: the ring a device joins when it enrolls (or comes to match the target) while
// a rollout is open. The ring plan's cumulative sizes are resolved against the devices the rollout
// targets now (this one included; never fewer than its members plus this one); the first ring (in order) whose labels the device carries and that is below its
// target takes it. None below target (a rollout that covers only part of the fleet): it stays out.
// Joining an open ring of an active rollout is an offer at once; any other ring holds until it opens.
// The exposure budget holds for late joiners too: an open ring before the last one that would take
// the devices offered the release past the budget passes the device on to a later ring. Pure.

export interface LateJoinRing {
  name: string;
  /** The policy's cumulative size. */
  size: { count: number } | { percent: number };
  labels: Record<string, string>;
  /** Devices the ring holds now. */
  assigned: number;
  opened: boolean;
}

export interface LateJoin {
  ring: string;
  action: 'offer' | 'hold';
  /** Cumulative target of that ring with this device counted. */
  target: number;
}

/** Same rule as the rollout's own sizes (rollout/policy.ts resolveSize): percent rounds up, never above the fleet. */
function resolve(size: LateJoinRing['size'], fleetSize: number): number {
  const n = 'count' in size ? size.count : Math.ceil((size.percent / 100) * fleetSize);
  return Math.min(fleetSize, n);
}

/**
 * targeted: devices the rollout's target selects now (hardware, channel, labels; not revoked), this one included.
 * exposureBudget: the policy's, resolved like the ring sizes (absent: no cap, as for rollouts from before it was kept).
 */
export function lateJoinRing(rings: readonly LateJoinRing[], deviceLabels: Record<string, string>, rolloutActive: boolean, targeted = 0, exposureBudget?: LateJoinRing['size']): LateJoin | undefined {
  const fleetSize = Math.max(targeted, rings.reduce((n, r) => n + r.assigned, 0) + 1);
  const budget = exposureBudget ? resolve(exposureBudget, fleetSize) : Infinity;
  const exposed = rings.filter((r) => r.opened).reduce((n, r) => n + r.assigned, 0);
  let reached = 0;
  let members = 0;
  for (const [i, ring] of rings.entries()) {
    reached = Math.max(reached, resolve(ring.size, fleetSize));
    members += ring.assigned;
    const matches = Object.entries(ring.labels).every(([k, v]) => deviceLabels[k] === v);
    const overBudget = ring.opened && i < rings.length - 1 && exposed + 1 > budget;
    if (matches && members < reached && !overBudget) return { ring: ring.name, action: ring.opened && rolloutActive ? 'offer' : 'hold', target: reached };
  }
  return undefined;
}
