// Per-device admission, the store side: operator preauthorizations, single-use enrollment tokens
// (only their SHA-256 is kept), trusted factory (manufacturer) CAs with their auto-accept policy,
// and devices that proved a factory identity and wait for `ota fleet accept` / `reject`.
// The gateway decides from these (gateway/admission.ts); admitting writes the devices row and
// spends the token in one transaction, so a token admits one device even across gateway processes.
import { createHash, randomBytes } from 'node:crypto';
import type { KeyAlgorithm, Labels } from '../schemas/device-api.js';
import type { FleetDatabase, Queryable } from './database.js';
import { getDevice, insertDevice, type EnrolledDevice, type EnrollInput } from './devices.js';
import { asDate } from './rows.js';

export interface Preauthorization {
  deviceId: string;
  hardwareId: string;
  channel: string;
  labels: Labels;
  publicKeyPem: string;
  keyAlgorithm: KeyAlgorithm;
  createdAt: Date;
}

export interface EnrollmentTokenRecord {
  tokenSha256: string;
  deviceId: string;
  /** null: any hardware id. */
  hardwareId: string | null;
  channel: string;
  labels: Labels;
  expiresAt: Date;
  usedAt: Date | null;
}

export interface FactoryCa {
  /** SHA-256 of the certificate's DER, hex: how operators name it. */
  fingerprint: string;
  name: string;
  certificatePem: string;
  /** A device-id pattern (`*` wildcards) whose devices are admitted without an operator; null: every device waits. */
  autoAccept: string | null;
  channel: string;
  labels: Labels;
  addedAt: Date;
}

export interface AdmissionRequest {
  deviceId: string;
  hardwareId: string;
  publicKeyPem: string;
  keyAlgorithm: KeyAlgorithm;
  factoryCa: string;
  certificatePem: string;
  state: 'pending' | 'rejected';
  requestedAt: Date;
  decidedAt: Date | null;
}

export type AdmissionState = 'admitted' | 'pending' | 'rejected' | 'unknown' | 'revoked';

/** What admitting spends: the token (single use) or nothing (preauthorization, policy, shared lab token). */
export type AdmissionSpend = { token: string } | undefined;
export type AdmitOutcome = { kind: 'created'; device: EnrolledDevice } | { kind: 'taken' } | { kind: 'token-spent' };

export const ENROLLMENT_TOKEN_PREFIX = 'ota-et1_';

export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

type Row = Record<string, unknown>;
const json = (labels: Labels) => JSON.stringify(labels);

/** A row as its record: snake_case columns to camelCase fields, the named timestamps to Date (or null). */
function fromRow<T>(row: Row, dates: string[]): T {
  const record: Row = {};
  for (const [column, value] of Object.entries(row)) record[column.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())] = value;
  for (const field of dates) record[field] = record[field] === null || record[field] === undefined ? null : asDate(record[field]);
  return record as T;
}

const toPreauthorization = (r: Row) => fromRow<Preauthorization>(r, ['createdAt']);
const toToken = (r: Row) => fromRow<EnrollmentTokenRecord>(r, ['expiresAt', 'usedAt']);
const toFactoryCa = (r: Row) => fromRow<FactoryCa>(r, ['addedAt']);
const toRequest = (r: Row) => fromRow<AdmissionRequest>(r, ['requestedAt', 'decidedAt']);

// ---- preauthorization ------------------------------------------------------------------------

/** Records (or replaces) the preauthorization; refused (false) once the device is enrolled. */
export async function preauthorize(db: FleetDatabase, p: Omit<Preauthorization, 'createdAt'>): Promise<boolean> {
  return (await preauthorizeAll(db, [p])).length === 0;
}

/** Many in one transaction (a factory batch, a simulated fleet); returns the ids refused because they are enrolled. */
export async function preauthorizeAll(db: FleetDatabase, list: Array<Omit<Preauthorization, 'createdAt'>>): Promise<string[]> {
  return db.transaction(async (tx) => {
    const refused: string[] = [];
    for (const p of list) {
      if (await getDevice(tx, p.deviceId)) {
        refused.push(p.deviceId);
        continue;
      }
      await tx.query(
        `INSERT INTO device_preauthorizations (device_id, hardware_id, channel, labels, public_key_pem, key_algorithm)
         VALUES ($1, $2, $3, $4::jsonb, $5, $6)
         ON CONFLICT (device_id) DO UPDATE SET hardware_id = $2, channel = $3, labels = $4::jsonb, public_key_pem = $5, key_algorithm = $6, created_at = now()`,
        [p.deviceId, p.hardwareId, p.channel, json(p.labels), p.publicKeyPem, p.keyAlgorithm],
      );
    }
    return refused;
  });
}

export async function getPreauthorization(db: Queryable, deviceId: string): Promise<Preauthorization | undefined> {
  const { rows } = await db.query('SELECT * FROM device_preauthorizations WHERE device_id = $1', [deviceId]);
  return rows[0] ? toPreauthorization(rows[0]) : undefined;
}

export async function listPreauthorizations(db: Queryable): Promise<Preauthorization[]> {
  const { rows } = await db.query('SELECT * FROM device_preauthorizations ORDER BY device_id');
  return rows.map(toPreauthorization);
}

export async function removePreauthorization(db: Queryable, deviceId: string): Promise<boolean> {
  return (await db.query('DELETE FROM device_preauthorizations WHERE device_id = $1', [deviceId])).rowCount > 0;
}

// ---- enrollment tokens -----------------------------------------------------------------------

export interface NewEnrollmentToken {
  deviceId: string;
  ttlSeconds: number;
  channel: string;
  labels: Labels;
  hardwareId?: string;
}

/** A fresh token for one device; the token itself is returned once and never stored. */
export async function createEnrollmentToken(db: Queryable, t: NewEnrollmentToken): Promise<{ token: string; expiresAt: Date }> {
  const token = `${ENROLLMENT_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  const { rows } = await db.query<{ expires_at: Date }>(
    `INSERT INTO enrollment_tokens (token_sha256, device_id, hardware_id, channel, labels, expires_at)
     VALUES ($1, $2, $3, $4, $5::jsonb, now() + make_interval(secs => $6)) RETURNING expires_at`,
    [tokenDigest(token), t.deviceId, t.hardwareId ?? null, t.channel, json(t.labels), t.ttlSeconds],
  );
  return { token, expiresAt: asDate(rows[0]!.expires_at) };
}

export async function findEnrollmentToken(db: Queryable, token: string): Promise<EnrollmentTokenRecord | undefined> {
  const { rows } = await db.query('SELECT * FROM enrollment_tokens WHERE token_sha256 = $1', [tokenDigest(token)]);
  return rows[0] ? toToken(rows[0]) : undefined;
}

// ---- factory CAs -----------------------------------------------------------------------------

export async function addFactoryCa(db: Queryable, ca: Omit<FactoryCa, 'addedAt'>): Promise<FactoryCa> {
  const { rows } = await db.query(
    `INSERT INTO factory_cas (fingerprint, name, certificate_pem, auto_accept, channel, labels)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb)
     ON CONFLICT (fingerprint) DO UPDATE SET name = $2, auto_accept = $4, channel = $5, labels = $6::jsonb
     RETURNING *`,
    [ca.fingerprint, ca.name, ca.certificatePem, ca.autoAccept, ca.channel, json(ca.labels)],
  );
  return toFactoryCa(rows[0]!);
}

export async function listFactoryCas(db: Queryable): Promise<FactoryCa[]> {
  const { rows } = await db.query('SELECT * FROM factory_cas ORDER BY name, fingerprint');
  return rows.map(toFactoryCa);
}

export async function removeFactoryCa(db: Queryable, fingerprint: string): Promise<boolean> {
  return (await db.query('DELETE FROM factory_cas WHERE fingerprint = $1', [fingerprint.toLowerCase()])).rowCount > 0;
}

// ---- pending devices -------------------------------------------------------------------------

/** Records a pending request; an existing one (pending or rejected) is kept as it is. */
export async function requestAdmission(db: Queryable, r: Omit<AdmissionRequest, 'state' | 'requestedAt' | 'decidedAt'>): Promise<AdmissionRequest> {
  await db.query(
    `INSERT INTO admission_requests (device_id, hardware_id, public_key_pem, key_algorithm, factory_ca, certificate_pem, state)
     VALUES ($1, $2, $3, $4, $5, $6, 'pending') ON CONFLICT (device_id) DO NOTHING`,
    [r.deviceId, r.hardwareId, r.publicKeyPem, r.keyAlgorithm, r.factoryCa, r.certificatePem],
  );
  return (await getAdmissionRequest(db, r.deviceId))!;
}

export async function getAdmissionRequest(db: Queryable, deviceId: string): Promise<AdmissionRequest | undefined> {
  const { rows } = await db.query('SELECT * FROM admission_requests WHERE device_id = $1', [deviceId]);
  return rows[0] ? toRequest(rows[0]) : undefined;
}

export async function listAdmissionRequests(db: Queryable): Promise<AdmissionRequest[]> {
  const { rows } = await db.query('SELECT * FROM admission_requests ORDER BY requested_at, device_id');
  return rows.map(toRequest);
}

export type AcceptOutcome = { kind: 'accepted'; device: EnrolledDevice } | { kind: 'not-pending'; state: AdmissionState };

/** Admits a pending device with the operator's selectors (default: its factory CA's); the request row goes. */
export async function acceptDevice(db: FleetDatabase, deviceId: string, selectors: { channel?: string; labels?: Labels }): Promise<AcceptOutcome> {
  return db.transaction(async (tx) => {
    const request = await getAdmissionRequest(tx, deviceId);
    if (request?.state !== 'pending') return { kind: 'not-pending', state: await admissionState(tx, deviceId) };
    const { rows } = await tx.query('SELECT * FROM factory_cas WHERE fingerprint = $1', [request.factoryCa]);
    const ca = rows[0] ? toFactoryCa(rows[0]) : undefined;
    const device = await insertDevice(tx, {
      id: deviceId,
      hardwareId: request.hardwareId,
      channel: selectors.channel ?? ca?.channel ?? 'stable',
      labels: selectors.labels ?? ca?.labels ?? {},
      publicKeyPem: request.publicKeyPem,
      keyAlgorithm: request.keyAlgorithm,
    });
    if (!device) return { kind: 'not-pending', state: await admissionState(tx, deviceId) };
    await tx.query('DELETE FROM admission_requests WHERE device_id = $1', [deviceId]);
    return { kind: 'accepted', device };
  });
}

/** A pending device is refused from now on (its request stays, as `rejected`). */
export async function rejectDevice(db: Queryable, deviceId: string): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE admission_requests SET state = 'rejected', decided_at = now() WHERE device_id = $1 AND state = 'pending'`, [deviceId]);
  return rowCount > 0;
}

// ---- admitting -------------------------------------------------------------------------------

/**
 * Writes the devices row and spends the token in one transaction: a token already spent (a
 * concurrent enroll won) or an id already taken leaves nothing written.
 */
export async function admitDevice(db: FleetDatabase, input: EnrollInput, spend: AdmissionSpend): Promise<AdmitOutcome> {
  return db.transaction(async (tx) => {
    if (spend) {
      const spent = await tx.query(
        'UPDATE enrollment_tokens SET used_at = now() WHERE token_sha256 = $1 AND device_id = $2 AND used_at IS NULL AND expires_at > now()',
        [tokenDigest(spend.token), input.id],
      );
      if (spent.rowCount === 0) return { kind: 'token-spent' } as const;
    }
    const device = await insertDevice(tx, input);
    if (!device) throw new TakenError();
    return { kind: 'created', device } as const;
  }).catch((error: unknown) => {
    if (error instanceof TakenError) return { kind: 'taken' } as const; // thrown to roll the token spend back
    throw error;
  });
}

class TakenError extends Error {}

/** Where a device stands: the devices row (admitted or revoked), else its admission request, else unknown. */
export async function admissionState(db: Queryable, deviceId: string): Promise<AdmissionState> {
  const device = await getDevice(db, deviceId);
  if (device) return device.revokedAt ? 'revoked' : 'admitted';
  return (await getAdmissionRequest(db, deviceId))?.state ?? 'unknown';
}
