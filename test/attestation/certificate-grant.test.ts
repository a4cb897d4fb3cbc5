// certificateGrant: normal credentials only with fresh evidence (or a software device the policy
// allows); pending, failed, stale, missing, TPM_REQUIRED and an open quarantine each give a
// short-lived quarantine certificate with the standing's code.
import { describe, expect, it } from 'vitest';
import { certificateGrant, QUARANTINE_CERTIFICATE_HOURS } from '../../attestation/certificate-grant.js';
import { attestationStanding, type AttestationPolicy } from '../../attestation/standing.js';

const policy: AttestationPolicy = { maxEvidenceAgeSeconds: 86_400, requireTpm: false, graceSeconds: 600, remediation: 'last-good' };
const t = (iso: string) => new Date(`2026-12-01T${iso}Z`);
const since = t('00:00:00');
const grant = (p: AttestationPolicy, evidence: Parameters<typeof attestationStanding>[1], now: Date, open?: { code: string; reason: string }) =>
  certificateGrant(p, attestationStanding(p, evidence, now), 24, open);

describe('certificateGrant', () => {
  it('no policy: a normal certificate of the configured lifetime', () => {
    expect(certificateGrant(undefined, undefined, 24)).toEqual({ kind: 'normal', hours: 24 });
  });

  it('a clean quote within maxEvidenceAgeSeconds: normal, 24 h', () => {
    expect(grant(policy, { assurance: 'tpm', since, latest: { at: t('01:00:00'), ok: true } }, t('02:00:00'))).toEqual({ kind: 'normal', hours: 24 });
  });

  it('a software key the policy allows: normal; under requireTpm: quarantine TPM_REQUIRED', () => {
    expect(grant(policy, { assurance: 'software', since }, t('01:00:00'))).toMatchObject({ kind: 'normal' });
    expect(grant({ ...policy, requireTpm: true }, { assurance: 'software', since }, t('01:00:00'))).toMatchObject({ kind: 'quarantine', code: 'TPM_REQUIRED', hours: QUARANTINE_CERTIFICATE_HOURS });
  });

  it('no quote yet (pending, in the grace): not a normal certificate', () => {
    expect(grant(policy, { assurance: 'tpm', since }, t('00:01:00'))).toMatchObject({ kind: 'quarantine', code: 'EVIDENCE_REQUIRED' });
  });

  it('failed, stale and missing evidence: quarantine with the standing code', () => {
    expect(grant(policy, { assurance: 'tpm', since, latest: { at: t('01:00:00'), ok: false, code: 'PCR_UNEXPECTED' } }, t('01:00:01'))).toMatchObject({ kind: 'quarantine', code: 'ATTESTATION_FAILED:PCR_UNEXPECTED' });
    expect(grant(policy, { assurance: 'tpm', since, latest: { at: t('01:00:00'), ok: true } }, new Date('2026-12-02T01:00:01Z'))).toMatchObject({ kind: 'quarantine', code: 'ATTESTATION_STALE' });
    expect(grant(policy, { assurance: 'tpm', since }, t('00:11:00'))).toMatchObject({ kind: 'quarantine', code: 'ATTESTATION_MISSING' });
  });

  it('an open quarantine holds even after a clean quote, until an operator releases it', () => {
    const open = { code: 'ATTESTATION_FAILED:PCR_UNEXPECTED', reason: 'PCR 16 …' };
    expect(grant(policy, { assurance: 'tpm', since, latest: { at: t('01:00:00'), ok: true } }, t('01:00:01'), open)).toMatchObject({ kind: 'quarantine', code: open.code });
  });

  it('a quarantine certificate never outlives the normal lifetime', () => {
    expect(certificateGrant(policy, { standing: 'pending', assurance: 'tpm', until: since }, 0.5)).toMatchObject({ kind: 'quarantine', hours: 0.5 });
  });
});
