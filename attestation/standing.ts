// A device's attestation standing now, from the policy and its latest evidence: pure, so the
// gateway's offers, certificate issuance and the CLI all judge alike. A quarantine standing names
// its cause with a code; evidence a failure was released by an operator no longer counts against it.
export type Assurance = 'tpm' | 'software';

export interface AttestationPolicy {
  /** Evidence older than this is stale (e.g. 24 h): the device must attest again or be quarantined. */
  maxEvidenceAgeSeconds: number;
  /** Quarantine devices without a TPM-held AK; false: they keep a normal standing at the lower "software" assurance. */
  requireTpm: boolean;
  /** Time a device has for its first quote after registering its AK (or after an operator's release). */
  graceSeconds: number;
  /** What a quarantined device is offered: a named release, or the last release it attested cleanly on. */
  remediation: { version: string } | 'last-good';
  /**
   * Refuse an AK whose EK has no certificate from a configured TPM vendor CA (attestation/ek-certificate.ts);
   * false (default): such an EK is accepted and recorded 'unverified' with why. A certificate that is sent is always checked.
   */
  requireEkCertificate?: boolean;
}

export const DEFAULT_ATTESTATION_POLICY: AttestationPolicy = { maxEvidenceAgeSeconds: 86_400, requireTpm: false, graceSeconds: 600, remediation: 'last-good' };

export interface AttestationEvidence {
  assurance: Assurance;
  /** When the device's AK was registered (TPM devices) or the device enrolled (software). */
  since: Date;
  /** The latest verified (or refused) quote. */
  latest?: { at: Date; ok: boolean; code?: string; detail?: string };
  /** The last operator release of a quarantine. */
  releasedAt?: Date;
}

export type QuarantineCode = 'ATTESTATION_FAILED' | 'ATTESTATION_STALE' | 'ATTESTATION_MISSING' | 'TPM_REQUIRED';

export type Standing =
  | { standing: 'attested'; assurance: 'tpm'; until: Date }
  | { standing: 'pending'; assurance: 'tpm'; until: Date }
  | { standing: 'unattested'; assurance: 'software'; reason: string }
  | { standing: 'quarantine'; assurance: Assurance; code: QuarantineCode; reason: string; failure?: string };

export function attestationStanding(policy: AttestationPolicy, evidence: AttestationEvidence, now: Date): Standing {
  if (evidence.assurance === 'software') {
    if (policy.requireTpm) return { standing: 'quarantine', assurance: 'software', code: 'TPM_REQUIRED', reason: 'the policy requires a TPM-held attestation key; this device signs with a software key' };
    return { standing: 'unattested', assurance: 'software', reason: 'software key: nothing measured or attested (lower assurance)' };
  }
  const released = evidence.releasedAt?.getTime() ?? -Infinity;
  const latest = evidence.latest && evidence.latest.at.getTime() > released ? evidence.latest : undefined;
  if (latest && !latest.ok) {
    return { standing: 'quarantine', assurance: 'tpm', code: 'ATTESTATION_FAILED', reason: `attestation failed at ${latest.at.toISOString()}: ${latest.detail ?? latest.code}`, failure: latest.code };
  }
  const maxAge = policy.maxEvidenceAgeSeconds * 1000;
  if (latest) {
    const until = new Date(latest.at.getTime() + maxAge);
    if (now.getTime() <= until.getTime()) return { standing: 'attested', assurance: 'tpm', until };
    return { standing: 'quarantine', assurance: 'tpm', code: 'ATTESTATION_STALE', reason: `last attested ${latest.at.toISOString()}, older than the policy's ${policy.maxEvidenceAgeSeconds} s` };
  }
  const start = Math.max(evidence.since.getTime(), released);
  const until = new Date(start + policy.graceSeconds * 1000);
  if (now.getTime() <= until.getTime()) return { standing: 'pending', assurance: 'tpm', until };
  return { standing: 'quarantine', assurance: 'tpm', code: 'ATTESTATION_MISSING', reason: `no quote since ${new Date(start).toISOString()} (grace ${policy.graceSeconds} s)` };
}

/** May this standing get normal credentials and rollout offers? (quarantine: remediation only). */
export function isNormalStanding(standing: Standing): boolean {
  return standing.standing !== 'quarantine';
}
