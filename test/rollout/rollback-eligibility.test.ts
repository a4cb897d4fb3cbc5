import { describe, expect, it } from 'vitest';
import { rollbackEligibility } from '../../rollout/rollback-eligibility.js';

describe('rollbackEligibility', () => {
  it('allows a return to the previous release at the same security version', () => {
    expect(rollbackEligibility('1.1.0', 3, { version: '1.0.0', securityVersion: 3 })).toEqual({ allowed: true });
  });

  it('allows a return when the new release lowered nothing and the previous one is higher', () => {
    expect(rollbackEligibility('1.1.0', 2, { version: '1.0.0', securityVersion: 3 }).allowed).toBe(true);
  });

  it('refuses when there is no earlier release', () => {
    expect(rollbackEligibility('1.0.0', 1, undefined)).toEqual({ allowed: false, blockedReason: 'there is no earlier release to return to' });
  });

  it('refuses when the release raised the security version, naming both versions', () => {
    const verdict = rollbackEligibility('1.2.0', 4, { version: '1.1.0', securityVersion: 3 });
    expect(verdict.allowed).toBe(false);
    expect(verdict.blockedReason).toBe('1.2.0 raised the security version to 4 (from 3); devices refuse to go below it');
  });
});
