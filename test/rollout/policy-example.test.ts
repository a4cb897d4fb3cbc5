// The documented example policy must stay valid.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../platform/paths.js';
import { readPolicyFile } from '../../rollout/policy-file.js';
import { capabilityProblems } from '../../rollout/policy-plan.js';

describe('docs/examples/rollout-policy.yml', () => {
  it('parses', () => {
    const policy = readPolicyFile(join(projectRoot, 'docs/examples/rollout-policy.yml'));
    expect(policy.rings.map((r) => r.name)).toEqual(['canary', 'early', 'wide', 'fleet']);
    expect(policy.statistics.mode).toBe('sequential');
  });

  it('every sequential ring can decide on a 10,000-device fleet (what ota rollout start checks)', () => {
    const policy = readPolicyFile(join(projectRoot, 'docs/examples/rollout-policy.yml'));
    expect(policy.rings.every((r) => r.decisionDeadline)).toBe(true);
    expect(capabilityProblems(policy, 10_000)).toEqual([]);
  });
});
