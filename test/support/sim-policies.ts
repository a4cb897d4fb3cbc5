// Simulation policies shared by the rollout simulation tests.
import type { SimPolicy } from '../../rollout/rollout-simulation.js';

/** A good release at 2% noise in release and control. */
export const good = { releaseRate: 0.02, controlRate: 0.02 };

/** The 10,000-device policy of docs/rollout-decision-rule.md ("recommended"): 1% / 10% / 25% / 100%. */
export const recommended: SimPolicy = {
  fleetSize: 10_000,
  alpha: 0.01,
  beta: 0.05,
  kinds: 1,
  baselineRate: 0.02,
  reportsPerPoll: 20,
  rings: [
    { name: 'canary', target: 100, mode: 'sequential', minEffect: 0.18, beta: 0.01, onUndecided: 'pass' },
    { name: 'early', target: 1000, mode: 'sequential', minEffect: 0.03, onUndecided: 'pass' },
    { name: 'wide', target: 2500, mode: 'sequential', minEffect: 0.03, onUndecided: 'pass' },
    { name: 'fleet', target: 10_000, mode: 'sequential', minEffect: 0.03 },
  ],
};
