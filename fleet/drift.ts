// Desired device state and drift events in the fleet store (docs/attestation.md, "Posture and
// drift"). Desired state is per hardware id, with optional per-ring rows that override it field by
// field. Drift events are reconciled per posture heartbeat in one transaction: a drift seen again
// moves its last_seen, a new one opens an event, an open one the heartbeat no longer shows is
// resolved. Events are never deleted.
import type { FleetDatabase, Queryable } from './database.js';
import { asDate } from './rows.js';

/** What an operator wants of a hardware id's devices (or of one ring of them); null: not judged. */
export interface DesiredStateRecord {
  hardwareId: string;
  /** '' = every ring. */
  ring: string;
  allowedPorts: string[] | null;
  allowedServices: string[] | null;
  configDigest: string | null;
  minAgentVersion: string | null;
  updatedAt: Date;
  updatedBy: string | null;
}

/** The fields a device is judged on after merging its hardware's row with its ring's. */
export type EffectiveDesiredState = Pick<DesiredStateRecord, 'allowedPorts' | 'allowedServices' | 'configDigest' | 'minAgentVersion'>;

export interface DriftEvent {
  id: number;
  deviceId: string;
  kind: string;
  subject: string;
  detail: Record<string, unknown>;
  firstSeen: Date;
  lastSeen: Date;
  firstCounter: number | null;
  lastCounter: number | null;
  resolvedAt: Date | null;
}

/** One drift as a heartbeat shows it. */
export interface ObservedDrift {
  kind: string;
  subject: string;
  detail: Record<string, unknown>;
}

export interface DriftReconciliation {
  opened: DriftEvent[];
  resolved: DriftEvent[];
  /** Every open event of the device after this heartbeat. */
  open: DriftEvent[];
}

type Row = Record<string, unknown>;

const toDesired = (r: Row): DesiredStateRecord => ({
  hardwareId: r.hardware_id as string,
  ring: r.ring as string,
  allowedPorts: (r.allowed_ports as string[] | null) ?? null,
  allowedServices: (r.allowed_services as string[] | null) ?? null,
  configDigest: (r.config_digest as string | null) ?? null,
  minAgentVersion: (r.min_agent_version as string | null) ?? null,
  updatedAt: asDate(r.updated_at),
  updatedBy: (r.updated_by as string | null) ?? null,
});

const toEvent = (r: Row): DriftEvent => ({
  id: Number(r.id),
  deviceId: r.device_id as string,
  kind: r.kind as string,
  subject: r.subject as string,
  detail: r.detail as Record<string, unknown>,
  firstSeen: asDate(r.first_seen),
  lastSeen: asDate(r.last_seen),
  firstCounter: r.first_counter === null || r.first_counter === undefined ? null : Number(r.first_counter),
  lastCounter: r.last_counter === null || r.last_counter === undefined ? null : Number(r.last_counter),
  resolvedAt: r.resolved_at ? asDate(r.resolved_at) : null,
});

const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

/** Sets (replaces) the desired state of a hardware id, or of one of its rings. */
export async function setDesiredState(db: Queryable, input: Omit<DesiredStateRecord, 'updatedAt'>): Promise<DesiredStateRecord> {
  const { rows } = await db.query(
    `INSERT INTO desired_states (hardware_id, ring, allowed_ports, allowed_services, config_digest, min_agent_version, updated_by, updated_at)
     VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $6, $7, now())
     ON CONFLICT (hardware_id, ring) DO UPDATE SET allowed_ports = EXCLUDED.allowed_ports, allowed_services = EXCLUDED.allowed_services,
       config_digest = EXCLUDED.config_digest, min_agent_version = EXCLUDED.min_agent_version, updated_by = EXCLUDED.updated_by, updated_at = now()
     RETURNING *`,
    [input.hardwareId, input.ring, json(input.allowedPorts), json(input.allowedServices), input.configDigest, input.minAgentVersion, input.updatedBy],
  );
  return toDesired(rows[0]!);
}

export async function clearDesiredState(db: Queryable, hardwareId: string, ring = ''): Promise<boolean> {
  return (await db.query('DELETE FROM desired_states WHERE hardware_id = $1 AND ring = $2', [hardwareId, ring])).rowCount > 0;
}

export async function listDesiredStates(db: Queryable, hardwareId?: string): Promise<DesiredStateRecord[]> {
  const { rows } = await db.query('SELECT * FROM desired_states WHERE ($1::text IS NULL OR hardware_id = $1) ORDER BY hardware_id, ring', [hardwareId ?? null]);
  return rows.map(toDesired);
}

/** The hardware's desired state with its ring's row laid over it (field by field); undefined when neither exists. */
export async function effectiveDesiredState(db: Queryable, hardwareId: string, ring?: string): Promise<EffectiveDesiredState | undefined> {
  const { rows } = await db.query(`SELECT * FROM desired_states WHERE hardware_id = $1 AND ring IN ('', $2) ORDER BY ring`, [hardwareId, ring ?? '']);
  if (!rows.length) return undefined;
  const merged: EffectiveDesiredState = { allowedPorts: null, allowedServices: null, configDigest: null, minAgentVersion: null };
  for (const row of rows.map(toDesired)) {
    merged.allowedPorts = row.allowedPorts ?? merged.allowedPorts;
    merged.allowedServices = row.allowedServices ?? merged.allowedServices;
    merged.configDigest = row.configDigest ?? merged.configDigest;
    merged.minAgentVersion = row.minAgentVersion ?? merged.minAgentVersion;
  }
  return merged;
}

/** Opens, refreshes and resolves a device's drift events from the drifts one heartbeat shows (one transaction). */
export async function reconcileDrift(db: FleetDatabase, deviceId: string, drifts: ObservedDrift[], counter: number): Promise<DriftReconciliation> {
  return db.transaction(async (tx) => {
    // Serializes two reconciliations of one device (two gateways).
    await tx.query('SELECT id FROM devices WHERE id = $1 FOR UPDATE', [deviceId]);
    const before = new Map((await openDriftRows(tx, deviceId)).map((e) => [`${e.kind}\u0000${e.subject}`, e]));
    const opened: DriftEvent[] = [];
    const seen = new Set<string>();
    for (const drift of drifts) {
      const key = `${drift.kind}\u0000${drift.subject}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (before.has(key)) {
        await tx.query(`UPDATE drift_events SET last_seen = now(), last_counter = $2, detail = $3::jsonb WHERE id = $1`, [before.get(key)!.id, counter, JSON.stringify(drift.detail)]);
      } else {
        const { rows } = await tx.query(
          `INSERT INTO drift_events (device_id, kind, subject, detail, first_counter, last_counter) VALUES ($1, $2, $3, $4::jsonb, $5, $5) RETURNING *`,
          [deviceId, drift.kind, drift.subject, JSON.stringify(drift.detail), counter],
        );
        opened.push(toEvent(rows[0]!));
      }
    }
    const resolvedIds = [...before.entries()].filter(([key]) => !seen.has(key)).map(([, e]) => e.id);
    const resolved: DriftEvent[] = [];
    for (const id of resolvedIds) resolved.push(toEvent((await tx.query(`UPDATE drift_events SET resolved_at = now() WHERE id = $1 RETURNING *`, [id])).rows[0]!));
    return { opened, resolved, open: await openDriftRows(tx, deviceId) };
  });
}

async function openDriftRows(db: Queryable, deviceId: string): Promise<DriftEvent[]> {
  const { rows } = await db.query('SELECT * FROM drift_events WHERE device_id = $1 AND resolved_at IS NULL ORDER BY first_seen, id', [deviceId]);
  return rows.map(toEvent);
}

/** Open drift events (all: resolved ones too), newest first; optionally of one device. */
export async function listDriftEvents(db: Queryable, options: { deviceId?: string; all?: boolean; limit?: number } = {}): Promise<DriftEvent[]> {
  const { rows } = await db.query(
    `SELECT * FROM drift_events WHERE ($1 OR resolved_at IS NULL) AND ($2::text IS NULL OR device_id = $2) ORDER BY first_seen DESC, id DESC LIMIT $3`,
    [options.all ?? false, options.deviceId ?? null, options.limit ?? 1000],
  );
  return rows.map(toEvent);
}
