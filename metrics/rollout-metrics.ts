// What the worker shows about rollouts: how many are in each state, and per ring of every open
// rollout its devices, exposure (devices running the release) and failure rate. Gauges read the
// fleet store when scraped, so they are never stale and cost nothing between scrapes.
import { Gauge, type Registry } from 'prom-client';
import { rolloutCountsByState, openRolloutRings } from '../fleet/fleet-gauges.js';
import type { FleetStore } from '../fleet/fleet-store.js';
import { devicesOnRelease } from '../fleet/rollouts.js';

export interface RingGaugeValues {
  rolloutId: string;
  ring: string;
  hardwareId: string;
  release: string;
  assigned: number;
  /** Devices of the ring that run the rollout's release. */
  exposed: number;
  failed: number;
  committed: number;
}

export interface RolloutSnapshot {
  byState: Array<{ state: string; count: number }>;
  rings: RingGaugeValues[];
}

/** Every record state, so a state with no rollouts reads 0 instead of vanishing. */
const RECORD_STATES = ['active', 'halted', 'rolling-back', 'finished', 'aborted'];

/** Failed over decided (failed + committed); 0 before anything is decided. */
export function failureRate(ring: Pick<RingGaugeValues, 'failed' | 'committed'>): number {
  const decided = ring.failed + ring.committed;
  return decided === 0 ? 0 : ring.failed / decided;
}

export function registerRolloutMetrics(registry: Registry, snapshot: () => Promise<RolloutSnapshot>): void {
  const registers = [registry];
  const ringLabels = ['rollout', 'ring', 'hardware', 'release'] as const;
  // One read per scrape: a scrape collects every gauge at once, and they share the read in flight.
  let pending: Promise<RolloutSnapshot> | undefined;
  const read = () => (pending ??= snapshot().finally(() => (pending = undefined)));
  const ringGauge = (name: string, help: string, value: (r: RingGaugeValues) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ringLabels,
      registers,
      async collect() {
        this.reset();
        for (const r of (await read()).rings) this.set({ rollout: r.rolloutId, ring: r.ring, hardware: r.hardwareId, release: r.release }, value(r));
      },
    });
  new Gauge({
    name: 'ota_rollouts',
    help: 'Rollout records by state (active, halted, rolling-back, finished, aborted)',
    labelNames: ['state'],
    registers,
    async collect() {
      const counts = new Map((await read()).byState.map((s) => [s.state, s.count]));
      for (const state of new Set([...RECORD_STATES, ...counts.keys()])) this.set({ state }, counts.get(state) ?? 0);
    },
  });
  ringGauge('ota_rollout_ring_devices', 'Devices assigned to each ring of an open rollout', (r) => r.assigned);
  ringGauge('ota_rollout_ring_exposure', 'Devices of the ring that run the rollout release', (r) => r.exposed);
  ringGauge('ota_rollout_ring_failures', 'Devices of the ring that reported a failure of the release since assignment', (r) => r.failed);
  ringGauge('ota_rollout_ring_failure_rate', 'Failed over decided (failed + committed) devices of the ring', failureRate);
}

/** The snapshot from the fleet store: rollouts by state, and ring health of the open ones. */
export function fleetRolloutSnapshot(fleet: () => Promise<FleetStore>): () => Promise<RolloutSnapshot> {
  return async () => {
    const store = await fleet();
    const byState = await rolloutCountsByState(store.db);
    const rings: RingGaugeValues[] = [];
    for (const r of await openRolloutRings(store.db)) {
      const counts = await store.ringReportCounts(r.rolloutId, r.ring);
      const exposed = await devicesOnRelease(store.db, r.rolloutId, { ring: r.ring });
      rings.push({ rolloutId: r.rolloutId, ring: r.ring, hardwareId: r.hardwareId, release: r.releaseVersion, assigned: counts.assigned, exposed, failed: counts.outcomes.failed, committed: counts.outcomes.committed });
    }
    return { byState, rings };
  };
}
