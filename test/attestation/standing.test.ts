// attestationStanding: fresh TPM evidence is a normal standing until it ages out; failures, stale
// or missing evidence quarantine with distinct codes; an operator's release forgives only older evidence.
import { describe, expect, it } from 'vitest';
import { attestationStanding, isNormalStanding, type AttestationPolicy } from '../../attestation/standing.js';

const policy: AttestationPolicy = { maxEvidenceAgeSeconds: 86_400, requireTpm: false, graceSeconds: 600, remediation: 'last-good' };
const t = (iso: string) => new Date(`2026-12-01T${iso}Z`);
const since = t('00:00:00');

describe('attestationStanding', () => {
  it('software keys: a normal standing at lower assurance, or TPM_REQUIRED under a policy that asks for a TPM', () => {
    expect(attestationStanding(policy, { assurance: 'software', since }, t('01:00:00'))).toMatchObject({ standing: 'unattested', assurance: 'software' });
    const strict = attestationStanding({ ...policy, requireTpm: true }, { assurance: 'software', since }, t('01:00:00'));
    expect(strict).toMatchObject({ standing: 'quarantine', code: 'TPM_REQUIRED' });
    expect(isNormalStanding(strict)).toBe(false);
  });

  it('a clean quote is good for maxEvidenceAgeSeconds, then ATTESTATION_STALE', () => {
    const evidence = { assurance: 'tpm' as const, since, latest: { at: t('01:00:00'), ok: true } };
    expect(attestationStanding(policy, evidence, t('23:00:00'))).toMatchObject({ standing: 'attested', until: new Date('2026-12-02T01:00:00Z') });
    expect(attestationStanding(policy, evidence, new Date('2026-12-02T01:00:01Z'))).toMatchObject({ standing: 'quarantine', code: 'ATTESTATION_STALE' });
  });

  it('no quote: pending during the grace, then ATTESTATION_MISSING', () => {
    expect(attestationStanding(policy, { assurance: 'tpm', since }, t('00:09:00'))).toMatchObject({ standing: 'pending' });
    expect(attestationStanding(policy, { assurance: 'tpm', since }, t('00:11:00'))).toMatchObject({ standing: 'quarantine', code: 'ATTESTATION_MISSING' });
  });

  it('a failed quote quarantines (ATTESTATION_FAILED with its code) until released; the release forgives only evidence before it', () => {
    const failed = { assurance: 'tpm' as const, since, latest: { at: t('01:00:00'), ok: false, code: 'PCR_UNEXPECTED', detail: 'PCR 16 is ...' } };
    expect(attestationStanding(policy, failed, t('01:00:01'))).toMatchObject({ standing: 'quarantine', code: 'ATTESTATION_FAILED', failure: 'PCR_UNEXPECTED' });
    const released = { ...failed, releasedAt: t('02:00:00') };
    expect(attestationStanding(policy, released, t('02:05:00'))).toMatchObject({ standing: 'pending' });
    expect(attestationStanding(policy, released, t('02:11:00'))).toMatchObject({ standing: 'quarantine', code: 'ATTESTATION_MISSING' });
    const failsAgain = { ...released, latest: { ...failed.latest, at: t('02:01:00') } };
    expect(attestationStanding(policy, failsAgain, t('02:02:00'))).toMatchObject({ standing: 'quarantine', code: 'ATTESTATION_FAILED' });
  });
});
