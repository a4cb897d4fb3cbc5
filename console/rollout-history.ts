// What the live rollout view has seen: one sample per status read (at most one a second), per ring
// its exposure and failure rates and its control cohort's. The workflow's status is a snapshot; the
// chart needs a line over time, so the console keeps the points it saw, bounded in memory.
import type { RolloutStatus } from '../rollout/types.js';

export interface RingSample {
  ring: string;
  /** Share of the targeted fleet assigned to this ring so far. */
  exposure: number;
  /** Failed / reported (installs), or null before any report. */
  failureRate: number | null;
  /** Post-commit failures of the ring's heartbeats, or null when none were read. */
  postCommitRate: number | null;
  /** The control cohort's failure rate (devices of the rollout still on the previous release). */
  controlRate: number | null;
}

export interface Sample {
  at: number;
  rings: RingSample[];
}

const rate = (failures: number, observed: number) => (observed > 0 ? failures / observed : null);

/** The pure reading of one status into a sample. */
export function sampleOf(status: RolloutStatus, at: number): Sample {
  const fleet = Math.max(status.exposure.fleet, 1);
  return {
    at,
    rings: status.rings.map((r) => ({
      ring: r.name,
      exposure: (r.health?.assigned ?? (r.state === 'pending' ? 0 : r.assigned)) / fleet,
      failureRate: r.health ? rate(r.health.failed, r.health.reported) : null,
      postCommitRate: r.health?.heartbeats ? rate(r.health.heartbeats.failures, r.health.heartbeats.observed) : null,
      controlRate: r.health?.control ? rate(r.health.control.failures, r.health.control.observed) : null,
    })),
  };
}

export class RolloutHistory {
  private readonly samples = new Map<string, Sample[]>();
  constructor(
    private readonly perRollout = 600,
    private readonly rollouts = 50,
    private readonly minGapMs = 1000,
  ) {}

  record(status: RolloutStatus, at = Date.now()): Sample[] {
    let list = this.samples.get(status.rolloutId);
    if (!list) {
      // The oldest rollout seen goes first when the map is full.
      if (this.samples.size >= this.rollouts) this.samples.delete(this.samples.keys().next().value!);
      list = [];
      this.samples.set(status.rolloutId, list);
    }
    const last = list[list.length - 1];
    if (!last || at - last.at >= this.minGapMs) {
      list.push(sampleOf(status, at));
      if (list.length > this.perRollout) list.splice(0, list.length - this.perRollout);
    }
    return list;
  }
}
