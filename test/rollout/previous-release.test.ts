import { describe, expect, it } from 'vitest';
import { choosePreviousRelease } from '../../rollout/previous-release.js';

const entry = (version: string, securityVersion = 1) => ({ version, securityVersion });
const published = [entry('1.0.0'), entry('1.1.0'), entry('1.2.0', 2), entry('2.0.0', 2)];
const release = { version: '2.0.0', securityVersion: 2 };

describe('choosePreviousRelease', () => {
  it('takes the release the devices run, not the highest one below', () => {
    const chosen = choosePreviousRelease(release, [{ version: '1.0.0', devices: 5 }, { version: null, devices: 2 }], published, new Set());
    expect(chosen).toEqual({ previous: entry('1.0.0'), eligibility: { allowed: false, blockedReason: expect.stringMatching(/raised the security version/) } });
  });

  it('with several, the most common published, ungated one that anti-rollback allows, and says so', () => {
    const running = [{ version: '1.0.0', devices: 6 }, { version: '1.2.0', devices: 3 }, { version: '1.1.0', devices: 3 }, { version: '2.0.0', devices: 9 }];
    const chosen = choosePreviousRelease(release, running, published, new Set());
    expect(chosen.previous).toEqual(entry('1.2.0', 2)); // 1.0.0 is below the new security version
    expect(chosen.eligibility).toEqual({ allowed: true });
    expect(chosen.note).toBe('the targeted devices run 1.0.0 (6), 1.2.0 (3), 1.1.0 (3); rollback returns to 1.2.0, each device to its own earlier release where it is published');
    expect(choosePreviousRelease(release, running, published, new Set(['1.2.0'])).previous).toEqual(entry('1.0.0'));
    expect(choosePreviousRelease({ version: '2.0.0', securityVersion: 1 }, running, [entry('1.0.0'), entry('1.1.0'), entry('2.0.0')], new Set()).previous).toEqual(entry('1.0.0'));
  });

  it('falls back to the highest published, ungated release below when no device reports one it can use', () => {
    expect(choosePreviousRelease(release, [{ version: null, devices: 4 }], published, new Set(['1.2.0']))).toMatchObject({ previous: entry('1.1.0'), note: expect.stringMatching(/no targeted device reports/) });
    expect(choosePreviousRelease(release, [{ version: '0.9.0', devices: 4 }], published, new Set())).toMatchObject({ previous: entry('1.2.0', 2), note: expect.stringMatching(/run 0\.9\.0 \(4\), none published/) });
    expect(choosePreviousRelease(release, [], [entry('2.0.0', 2)], new Set())).toMatchObject({ previous: undefined, eligibility: { allowed: false } });
  });
});
