import { describe, expect, it } from 'vitest';
import { chooseDeltaBases, checkSecurityVersion, decideOnExistingRelease, defaultSecurityVersion } from '../../release/decisions.js';
import { compareSemver } from '../../release/semver.js';
import type { ReleaseIndexEntry } from '../../schemas/manifest.js';

const entry = (version: string, securityVersion = 0): ReleaseIndexEntry => ({
  version,
  securityVersion,
  created: '2026-01-01T00:00:00Z',
  manifest: { location: `releases/gw/${version}/manifest.json`, sha256: 'a'.repeat(64) },
});

describe('compareSemver', () => {
  it('orders by SemVer 2.0 precedence', () => {
    const sorted = ['1.0.0', '1.0.0-alpha.1', '1.0.0-alpha', '1.0.0-beta.11', '1.0.0-beta.2', '1.0.0-rc.1', '0.9.9', '1.10.0', '1.2.0', '1.0.0-alpha.beta', '1.0.0-beta'].sort(compareSemver);
    expect(sorted).toEqual(['0.9.9', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.2.0', '1.10.0']);
    expect(compareSemver('1.0.0+build.1', '1.0.0+build.2')).toBe(0);
  });
});

describe('chooseDeltaBases', () => {
  it('takes the newest K releases older than the new version', () => {
    const published = ['1.0.0', '1.2.0', '1.1.0', '2.0.0', '1.10.0'].map((v) => entry(v));
    expect(chooseDeltaBases(published, '1.10.1', 3).map((e) => e.version)).toEqual(['1.10.0', '1.2.0', '1.1.0']);
    expect(chooseDeltaBases(published, '1.0.0', 3)).toEqual([]);
    expect(chooseDeltaBases(published, '3.0.0', 0)).toEqual([]);
  });
});

describe('checkSecurityVersion', () => {
  it('refuses a lower security version and names the release that raised it', () => {
    const published = [entry('1.0.0', 1), entry('1.1.0', 3), entry('1.2.0', 2)];
    expect(checkSecurityVersion(published, 3)).toEqual({ ok: true });
    expect(checkSecurityVersion(published, 4)).toEqual({ ok: true });
    const refused = checkSecurityVersion(published, 2);
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.reason).toContain('below 3 of release 1.1.0');
    expect(defaultSecurityVersion(published)).toBe(3);
    expect(defaultSecurityVersion([])).toBe(0);
  });
});

describe('decideOnExistingRelease', () => {
  it('publishes new versions, returns identical ones, refuses a different image', () => {
    expect(decideOnExistingRelease(undefined, '1.0.0', 'b'.repeat(64))).toEqual({ action: 'publish' });
    expect(decideOnExistingRelease({ imageSha256: 'b'.repeat(64) }, '1.0.0', 'b'.repeat(64))).toEqual({ action: 'return-existing' });
    const refused = decideOnExistingRelease({ imageSha256: 'b'.repeat(64) }, '1.0.0', 'c'.repeat(64));
    expect(refused.action).toBe('refuse');
    expect(refused.action === 'refuse' && refused.reason).toContain('already published');
  });
});
