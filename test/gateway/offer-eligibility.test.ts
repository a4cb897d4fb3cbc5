import { describe, expect, it } from 'vitest';
import { offerEligibility } from '../../gateway/offer-eligibility.js';

const at = (iso: string) => new Date(iso);

describe('offerEligibility', () => {
  it('offers a release that never failed on the device', () => {
    expect(offerEligibility('2.0.0', 'r1', 'dev-1', [])).toEqual({ offer: true });
  });

  it('offers again after transient download and verify failures', () => {
    expect(offerEligibility('2.0.0', 'r1', 'dev-1', [{ kind: 'download', receivedAt: at('2026-01-01T00:00:00Z') }, { kind: 'verify', receivedAt: at('2026-01-01T00:01:00Z') }])).toEqual({ offer: true });
  });

  it.each(['install', 'boot', 'health'] as const)('refuses after a %s failure, naming the failure and the way out', (kind) => {
    const answer = offerEligibility('2.0.0', 'r1', 'dev-1', [{ kind, receivedAt: at('2026-01-01T00:00:00Z') }]);
    expect(answer).toMatchObject({ offer: false, kind });
    if (answer.offer) throw new Error('unreachable');
    expect(answer.reason).toContain('2.0.0 failed on this device');
    expect(answer.reason).toContain('rollout r1');
    expect(answer.reason).toContain('ota fleet retry dev-1');
  });

  it('names the latest blocking failure', () => {
    const answer = offerEligibility('2.0.0', 'r1', 'dev-1', [
      { kind: 'boot', receivedAt: at('2026-01-01T00:00:00Z') },
      { kind: 'download', receivedAt: at('2026-01-01T00:05:00Z') },
      { kind: 'health', receivedAt: at('2026-01-01T00:03:00Z') },
    ]);
    expect(answer).toMatchObject({ offer: false, kind: 'health' });
  });
});
