// How a parsed policy becomes the simulation's view (rollout/policy-plan.ts): polls from
// durations, the control from heartbeats or not, and the check `ota rollout start` refuses on.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../platform/paths.js';
import { readPolicyFile } from '../../rollout/policy-file.js';
import { capabilityProblems, planScenarios, simPolicyFor } from '../../rollout/policy-plan.js';

const example = () => readPolicyFile(join(projectRoot, 'docs/examples/rollout-policy.yml'));

describe('simPolicyFor', () => {
  it('turns bake time, decision and install deadlines into polls of the poll interval (1m)', () => {
    const sim = simPolicyFor(example(), { fleetSize: 10_000, reportsPerPoll: 20 });
    expect(sim.rings.map((r) => [r.name, r.mode, r.bakePolls, r.deadlinePolls, r.timeoutPolls, r.minReports, r.onUndecided])).toEqual([
      ['canary', 'sequential', 120, 1440, 60, 50, 'pass'],
      ['early', 'sequential', 1440, 4320, 60, 100, 'pass'],
      ['wide', 'sequential', 1440, 4320, 60, 100, 'pass'],
      ['fleet', 'sequential', 2880, 10_080, 60, 1000, 'inconclusive'],
    ]);
    expect(sim.rings[0]).toMatchObject({ maxFailures: 10, maxFailureRate: 0.25, minEffect: 0.18, beta: 0.01 });
    expect(sim).toMatchObject({ heartbeats: true, maxControlRatio: undefined });
    expect(simPolicyFor(example(), { fleetSize: 10_000, reportsPerPoll: 20, control: false })).toMatchObject({ heartbeats: false, maxControlRatio: 0 });
  });

  it('the start check judges the install test at the α share it gets beside the post-commit test', () => {
    expect(capabilityProblems(example(), 10_000)).toEqual([]);
    const small = example();
    small.rings[0]!.size = { count: 5 };
    const [problem] = capabilityProblems(small, 10_000);
    expect(problem).toMatchObject({ ring: 'canary', devices: 5, minRingSize: 31, canPass: false });
  });

  it('plans silent devices and a bricking release beside the same failures reported', () => {
    expect(planScenarios(0.02, 0.1, 0.2)).toEqual([
      { name: 'good, 10% silent', scenario: { releaseRate: 0.02, controlRate: 0.02, silentShare: 0.1 } },
      { name: 'fails 20%, reported', scenario: { releaseRate: expect.closeTo(0.216, 12), controlRate: 0.02 } },
      { name: 'bricks 20%, no report', scenario: { releaseRate: 0.02, controlRate: 0.02, brickShare: 0.2 } },
    ]);
    expect(planScenarios(0.02, 0, 0)).toEqual([]);
  });
});
