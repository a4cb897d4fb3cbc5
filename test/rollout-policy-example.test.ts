// The documented example policy must stay valid.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../platform/paths.js';
import { readPolicyFile } from '../rollout/policy-file.js';

describe('docs/examples/rollout-policy.yml', () => {
  it('parses', () => {
    const policy = readPolicyFile(join(projectRoot, 'docs/examples/rollout-policy.yml'));
    expect(policy.rings.map((r) => r.name)).toEqual(['canary', 'early', 'fleet']);
    expect(policy.statistics.mode).toBe('wilson');
  });
});
