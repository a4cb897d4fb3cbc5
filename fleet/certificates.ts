// Device client certificates the gateway issued: one row per serial, the device it names, its
// validity, the signed request's time (requests only move forward, so a replayed one is refused) and
// revocation. The gateway's mTLS check reads a serial's status on every request.
import type { FleetDatabase, Queryable } from './database.js';
import type { EnrolledDevice } from './devices.js';
import { toDevice, type DeviceRow } from './rows.js';

export interface IssuedCertificateRecord {
  serial: string;
  deviceId: string;
  notBefore: Date;
  notAfter: Date;
  /** sentAt of the signed request it answered. */
  requestedAt: Date;
}

export interface CertificateRecord extends IssuedCertificateRecord {
  issuedAt: Date;
  revokedAt: Date | null;
}

/**
 * What the gateway learns about a presented serial, in one query: unknown to this fleet, or issued
 * to a device, with when the certificate was revoked (null: not) and the device's row (its id, its
 * own revocation, the key a signed request is verified against: one round trip, not two).
 */
export type SerialStatus = { kind: 'unknown' } | { kind: 'issued'; certificateRevokedAt: Date | null; device: EnrolledDevice };

interface CertificateRow {
  serial: string;
  device_id: string;
  not_before: Date;
  not_after: Date;
  issued_at: Date;
  requested_at: Date;
  revoked_at: Date | null;
  [key: string]: unknown;
}

/** Serials are compared as lowercase hex without leading zeros (Node prints them uppercase). */
export function normalizeSerial(serial: string): string {
  return serial.toLowerCase().replace(/^0+(?=.)/, '');
}

function toRecord(row: CertificateRow): CertificateRecord {
  return { serial: row.serial, deviceId: row.device_id, notBefore: row.not_before, notAfter: row.not_after, issuedAt: row.issued_at, requestedAt: row.requested_at, revokedAt: row.revoked_at };
}

/**
 * Records an issued certificate unless a request of this device at or after `requestedAt` was
 * already honoured (a replay, or an older request arriving late): then 'stale' and nothing is stored.
 */
export function recordCertificate(db: FleetDatabase, record: IssuedCertificateRecord): Promise<'recorded' | 'stale'> {
  return db.transaction(async (tx) => {
    // Serialise a device's requests so two concurrent ones cannot both pass the freshness check.
    await tx.query('SELECT id FROM devices WHERE id = $1 FOR UPDATE', [record.deviceId]);
    const { rows } = await tx.query<{ last: Date | null }>('SELECT max(requested_at) AS last FROM device_certificates WHERE device_id = $1', [record.deviceId]);
    const last = rows[0]?.last;
    if (last && new Date(last).getTime() >= record.requestedAt.getTime()) return 'stale';
    await tx.query('INSERT INTO device_certificates (serial, device_id, not_before, not_after, requested_at) VALUES ($1, $2, $3, $4, $5)', [
      normalizeSerial(record.serial),
      record.deviceId,
      record.notBefore,
      record.notAfter,
      record.requestedAt,
    ]);
    return 'recorded';
  });
}

export async function serialStatus(db: Queryable, serial: string): Promise<SerialStatus> {
  const { rows } = await db.query<DeviceRow & { cert_revoked: Date | null }>(
    `SELECT c.revoked_at AS cert_revoked, d.*
     FROM device_certificates c JOIN devices d ON d.id = c.device_id WHERE c.serial = $1`,
    [normalizeSerial(serial)],
  );
  const row = rows[0];
  if (!row) return { kind: 'unknown' };
  return { kind: 'issued', certificateRevokedAt: row.cert_revoked, device: toDevice(row) };
}

/** True when the serial was issued and not revoked before. */
export async function revokeCertificate(db: Queryable, serial: string, reason: string): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE device_certificates SET revoked_at = now(), revoked_reason = $2 WHERE serial = $1 AND revoked_at IS NULL', [normalizeSerial(serial), reason]);
  return rowCount > 0;
}

/** A device's certificates, newest request first. */
export async function certificatesOf(db: Queryable, deviceId: string, limit = 100): Promise<CertificateRecord[]> {
  const { rows } = await db.query<CertificateRow>('SELECT * FROM device_certificates WHERE device_id = $1 ORDER BY requested_at DESC LIMIT $2', [deviceId, limit]);
  return rows.map(toRecord);
}
