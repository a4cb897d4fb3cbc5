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

export interface RingSlot {
  /** Devices on the release once this ring is entered (cumulative). */
  target: number;
  /** Only devices carrying all these labels may join the ring. */
  labels?: Record<string, string>;
}

export interface LabelledDevice {
  id: string;
  labels: Record<string, string>;
}

/**
 * Fills rings in order from the canary order: ring i takes the next devices (that match its
 * labels, if any) until the rollout covers its cumulative target. A ring limited to one region
 * can come up short when the region is small: it then takes all of that region.
 */
export function assignRings(rolloutId: string, devices: LabelledDevice[], slots: RingSlot[]): string[][] {
  const byId = new Map(devices.map((d) => [d.id, d]));
  const ordered = canaryOrder(rolloutId, devices.map((d) => d.id));
  const taken = new Set<string>();
  return slots.map((slot) => {
    const ring: string[] = [];
    for (const id of ordered) {
      if (taken.size >= slot.target) break;
      if (taken.has(id) || !matches(byId.get(id)!.labels, slot.labels)) continue;
      ring.push(id);
      taken.add(id);
    }
    return ring;
  });
}

function matches(labels: Record<string, string>, wanted: Record<string, string> | undefined): boolean {
  return !wanted || Object.entries(wanted).every(([k, v]) => labels[k] === v);
}
