// Attestation in the fleet store: each device's registered attestation key, the evidence of every
// quote (accepted or refused), and quarantine decisions (opened by the gateway, released by an
// operator, never deleted). At most one open quarantine per device (a partial unique index).
import type { Queryable } from './database.js';
import { asDate } from './rows.js';

export interface AttestationKeyRecord {
  deviceId: string;
  akPem: string;
  akQualifiedName: string;
  ekPem: string;
  registeredAt: Date;
  /** 'pending-activation' until the device answers the credential made for the AK name against its EK. */
  status: 'active' | 'pending-activation';
  /** The AK's TPM name (hex) the credential was made for. */
  akName: string | null;
  activatedAt: Date | null;
  /** The EK's trust at registration (attestation/ek-certificate.ts); null for keys registered before it was judged. */
  ek: EkTrustRecord | null;
}

export interface EkTrustRecord {
  trust: 'vendor-ca' | 'unverified';
  caFingerprint: string | null;
  warning: string | null;
  /** The EK certificate the device sent (DER, base64). */
  certificate: string | null;
}

export interface AttestationRecord {
  id: number;
  deviceId: string;
  at: Date;
  ok: boolean;
  code: string | null;
  detail: string | null;
  releaseVersion: string | null;
  evidence: Record<string, unknown>;
}

export interface QuarantineRecord {
  id: number;
  deviceId: string;
  since: Date;
  code: string;
  reason: string;
  evidence: Record<string, unknown>;
  remediationVersion: string | null;
  releasedAt: Date | null;
  releasedBy: string | null;
  releaseNote: string | null;
}

type Row = Record<string, unknown>;

const toKey = (r: Row): AttestationKeyRecord => ({ deviceId: r.device_id as string, akPem: r.ak_pem as string, akQualifiedName: r.ak_qualified_name as string, ekPem: r.ek_pem as string, registeredAt: asDate(r.registered_at as Date),
  status: (r.status as AttestationKeyRecord['status'] | undefined) ?? 'active', akName: (r.ak_name as string | null) ?? null, activatedAt: r.activated_at ? asDate(r.activated_at as Date) : null,
  ek: r.ek_trust ? { trust: r.ek_trust as EkTrustRecord['trust'], caFingerprint: (r.ek_ca_fingerprint as string | null) ?? null, warning: (r.ek_warning as string | null) ?? null, certificate: (r.ek_certificate as string | null) ?? null } : null });

const toAttestation = (r: Row): AttestationRecord => ({
  id: Number(r.id),
  deviceId: r.device_id as string,
  at: asDate(r.at as Date),
  ok: r.ok as boolean,
  code: (r.code as string | null) ?? null,
  detail: (r.detail as string | null) ?? null,
  releaseVersion: (r.release_version as string | null) ?? null,
  evidence: r.evidence as Record<string, unknown>,
});

const toQuarantine = (r: Row): QuarantineRecord => ({
  id: Number(r.id),
  deviceId: r.device_id as string,
  since: asDate(r.since as Date),
  code: r.code as string,
  reason: r.reason as string,
  evidence: r.evidence as Record<string, unknown>,
  remediationVersion: (r.remediation_version as string | null) ?? null,
  releasedAt: r.released_at ? asDate(r.released_at as Date) : null,
  releasedBy: (r.released_by as string | null) ?? null,
  releaseNote: (r.release_note as string | null) ?? null,
});

/** First registration wins: the same AK again is 'same', another one is 'conflict' (nothing changes). */
export async function registerAttestationKey(
  db: Queryable,
  key: Pick<AttestationKeyRecord, 'deviceId' | 'akPem' | 'akQualifiedName' | 'ekPem'> & { activation?: { akName: string; secretSha256: string }; ek?: EkTrustRecord },
): Promise<{ kind: 'created' | 'same' | 'conflict'; key: AttestationKeyRecord }> {
  const inserted = await db.query(
    `INSERT INTO attestation_keys (device_id, ak_pem, ak_qualified_name, ek_pem, status, ak_name, activation_secret_sha256, ek_trust, ek_ca_fingerprint, ek_warning, ek_certificate)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (device_id) DO NOTHING RETURNING *`,
    [key.deviceId, key.akPem, key.akQualifiedName.toLowerCase(), key.ekPem, key.activation ? 'pending-activation' : 'active', key.activation?.akName ?? null, key.activation?.secretSha256 ?? null,
      key.ek?.trust ?? null, key.ek?.caFingerprint ?? null, key.ek?.warning ?? null, key.ek?.certificate ?? null],
  );
  if (inserted.rows[0]) return { kind: 'created', key: toKey(inserted.rows[0]) };
  const existing = (await getAttestationKey(db, key.deviceId))!;
  const same = existing.akQualifiedName === key.akQualifiedName.toLowerCase() && existing.akPem.trim() === key.akPem.trim();
  return { kind: same ? 'same' : 'conflict', key: existing };
}

/**
 * A pending AK whose credential secret matches becomes active (once); a wrong secret changes nothing.
 * A still-pending AK may get a new credential (`secretSha256` replaced) when the device registers it again.
 */
export async function activateAttestationKey(db: Queryable, deviceId: string, secretSha256: string): Promise<'activated' | 'already-active' | 'wrong-secret' | 'unknown'> {
  const { rows } = await db.query(
    `UPDATE attestation_keys SET status = 'active', activated_at = now(), activation_secret_sha256 = NULL
     WHERE device_id = $1 AND status = 'pending-activation' AND activation_secret_sha256 = $2 RETURNING device_id`,
    [deviceId, secretSha256],
  );
  if (rows[0]) return 'activated';
  const key = await getAttestationKey(db, deviceId);
  if (!key) return 'unknown';
  return key.status === 'active' ? 'already-active' : 'wrong-secret';
}

export async function renewActivationSecret(db: Queryable, deviceId: string, secretSha256: string): Promise<void> {
  await db.query(`UPDATE attestation_keys SET activation_secret_sha256 = $2 WHERE device_id = $1 AND status = 'pending-activation'`, [deviceId, secretSha256]);
}

export async function getAttestationKey(db: Queryable, deviceId: string): Promise<AttestationKeyRecord | undefined> {
  const { rows } = await db.query('SELECT * FROM attestation_keys WHERE device_id = $1', [deviceId]);
  return rows[0] ? toKey(rows[0]) : undefined;
}

export async function recordAttestation(db: Queryable, input: Omit<AttestationRecord, 'id' | 'at'>): Promise<AttestationRecord> {
  const { rows } = await db.query(
    `INSERT INTO attestations (device_id, ok, code, detail, release_version, evidence) VALUES ($1, $2, $3, $4, $5, $6::jsonb) RETURNING *`,
    [input.deviceId, input.ok, input.code, input.detail, input.releaseVersion, JSON.stringify(input.evidence)],
  );
  return toAttestation(rows[0]!);
}

/** The newest evidence of this device (`ok` true: the newest accepted one). */
export async function latestAttestation(db: Queryable, deviceId: string, options: { ok?: true } = {}): Promise<AttestationRecord | undefined> {
  const { rows } = await db.query(`SELECT * FROM attestations WHERE device_id = $1 ${options.ok ? 'AND ok' : ''} ORDER BY at DESC, id DESC LIMIT 1`, [deviceId]);
  return rows[0] ? toAttestation(rows[0]) : undefined;
}

export async function attestationHistory(db: Queryable, deviceId: string, limit = 20): Promise<AttestationRecord[]> {
  const { rows } = await db.query('SELECT * FROM attestations WHERE device_id = $1 ORDER BY at DESC, id DESC LIMIT $2', [deviceId, limit]);
  return rows.map(toAttestation);
}

/** Opens a quarantine unless one is open already; returns the open one either way. */
export async function openQuarantine(db: Queryable, input: Pick<QuarantineRecord, 'deviceId' | 'code' | 'reason' | 'evidence' | 'remediationVersion'>): Promise<QuarantineRecord> {
  await db.query(
    `INSERT INTO quarantines (device_id, code, reason, evidence, remediation_version) VALUES ($1, $2, $3, $4::jsonb, $5)
     ON CONFLICT (device_id) WHERE released_at IS NULL DO NOTHING`,
    [input.deviceId, input.code, input.reason, JSON.stringify(input.evidence), input.remediationVersion],
  );
  return (await openQuarantineFor(db, input.deviceId))!;
}

export async function openQuarantineFor(db: Queryable, deviceId: string): Promise<QuarantineRecord | undefined> {
  const { rows } = await db.query('SELECT * FROM quarantines WHERE device_id = $1 AND released_at IS NULL', [deviceId]);
  return rows[0] ? toQuarantine(rows[0]) : undefined;
}

/** Open quarantines (all: released ones too), newest first. */
export async function listQuarantines(db: Queryable, options: { all?: boolean; deviceId?: string } = {}): Promise<QuarantineRecord[]> {
  const { rows } = await db.query(
    `SELECT * FROM quarantines WHERE ($1 OR released_at IS NULL) AND ($2::text IS NULL OR device_id = $2) ORDER BY since DESC, id DESC`,
    [options.all ?? false, options.deviceId ?? null],
  );
  return rows.map(toQuarantine);
}

/** An operator releases the open quarantine of a device; undefined when none is open. */
export async function releaseQuarantine(db: Queryable, deviceId: string, by: string, note: string | null): Promise<QuarantineRecord | undefined> {
  const { rows } = await db.query(
    `UPDATE quarantines SET released_at = now(), released_by = $2, release_note = $3 WHERE device_id = $1 AND released_at IS NULL RETURNING *`,
    [deviceId, by, note],
  );
  return rows[0] ? toQuarantine(rows[0]) : undefined;
}

/** When an operator last released this device (evidence before it no longer counts against it). */
export async function lastQuarantineRelease(db: Queryable, deviceId: string): Promise<Date | undefined> {
  const { rows } = await db.query<{ at: Date | null }>('SELECT max(released_at) AS at FROM quarantines WHERE device_id = $1', [deviceId]);
  return rows[0]?.at ? asDate(rows[0].at) : undefined;
}

export async function quarantinedDeviceIds(db: Queryable): Promise<Set<string>> {
  const { rows } = await db.query<{ device_id: string }>('SELECT device_id FROM quarantines WHERE released_at IS NULL');
  return new Set(rows.map((r) => r.device_id));
}
