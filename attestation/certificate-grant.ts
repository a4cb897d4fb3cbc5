// Which certificate a device gets at issuance or renewal, from its attestation standing: pure, so
// the gateway and its tests judge alike. Normal credentials need fresh evidence (a clean quote
// within the policy's maxEvidenceAgeSeconds, usually the one sent with the CSR) or a software
// device the policy allows; anything else gets a quarantine certificate, which is short-lived and
// lets the device only check in, report, attest and fetch its remediation release.
import type { AttestationPolicy, Standing } from './standing.js';

export type CertificateGrant =
  | { kind: 'normal'; hours: number }
  | { kind: 'quarantine'; hours: number; code: string; reason: string };

/** A quarantine certificate lives at most this long: the device renews it soon after it remediates. */
export const QUARANTINE_CERTIFICATE_HOURS = 1;

/**
 * `open` is the device's open quarantine, if any: it holds until an operator releases it, whatever
 * the latest quote says (a clean quote after a failure does not end a quarantine by itself).
 */
export function certificateGrant(policy: AttestationPolicy | undefined, standing: Standing | undefined, normalHours: number, open?: { code: string; reason: string }): CertificateGrant {
  if (!policy || !standing) return { kind: 'normal', hours: normalHours };
  const quarantine = (code: string, reason: string): CertificateGrant => ({ kind: 'quarantine', hours: Math.min(normalHours, QUARANTINE_CERTIFICATE_HOURS), code, reason });
  if (open) return quarantine(open.code, open.reason);
  switch (standing.standing) {
    case 'attested':
      return { kind: 'normal', hours: normalHours };
    case 'unattested':
      return { kind: 'normal', hours: normalHours }; // a software device the policy allows (requireTpm false)
    case 'pending':
      // In its grace the device is not quarantined, but it has no evidence yet: no normal credentials.
      return quarantine('EVIDENCE_REQUIRED', 'no clean quote yet: send a quote over a fresh nonce with the certificate request');
    case 'quarantine':
      return quarantine(standing.failure ? `${standing.code}:${standing.failure}` : standing.code, standing.reason);
  }
}
