// Versioned schema migrations, applied in order at open. Each runs once, inside one transaction
// with its schema_migrations row, under an advisory lock so two processes opening the same
// PostgreSQL database (gateway and worker) never apply one twice. Append new versions; never edit
// a released one.
import type { FleetDatabase } from './database.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

// Arbitrary constant: the key of the advisory lock that serialises migrations.
const MIGRATION_LOCK_KEY = 72_430_105;

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'devices, state, reports, nonces, rollouts',
    sql: `
      CREATE TABLE devices (
        id             text PRIMARY KEY,
        hardware_id    text NOT NULL,
        channel        text NOT NULL,
        labels         jsonb NOT NULL DEFAULT '{}'::jsonb,
        public_key_pem text NOT NULL,
        key_algorithm  text NOT NULL CHECK (key_algorithm IN ('ed25519', 'ecdsa-p256-sha256')),
        enrolled_at    timestamptz NOT NULL DEFAULT now(),
        revoked_at     timestamptz,
        revoked_reason text
      );
      -- Rollout selectors: hardware first, then label containment (@>) through GIN.
      CREATE INDEX devices_hardware_idx ON devices (hardware_id, channel);
      CREATE INDEX devices_labels_idx ON devices USING gin (labels jsonb_path_ops);

      -- One row per device: what it last told us (check-in or report).
      CREATE TABLE device_state (
        device_id        text PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
        current_version  text,
        image_sha256     text,
        slot             text,
        boot_count       integer,
        security_version integer,
        state            text,
        failure_kind     text,
        release_version  text,
        last_checkin_at  timestamptz,
        last_report_at   timestamptz,
        -- Highest report counter stored: a report must carry a larger one.
        last_counter     bigint NOT NULL DEFAULT 0
      );

      CREATE TABLE reports (
        id              bigserial PRIMARY KEY,
        device_id       text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
        counter         bigint NOT NULL,
        nonce           text NOT NULL,
        release_version text NOT NULL,
        image_sha256    text NOT NULL,
        slot            text NOT NULL,
        boot_count      integer NOT NULL,
        state           text NOT NULL,
        failure_kind    text,
        detail          text,
        metrics         jsonb NOT NULL,
        custom          jsonb NOT NULL,
        created_at      timestamptz NOT NULL,
        received_at     timestamptz NOT NULL DEFAULT now(),
        -- The signed bytes and signature, kept so a report can be re-verified later.
        payload         text NOT NULL,
        signature       text NOT NULL,
        key_algorithm   text NOT NULL,
        UNIQUE (device_id, counter)
      );
      -- Ring health: latest report per (device, release).
      CREATE INDEX reports_device_release_idx ON reports (device_id, release_version, counter DESC);

      CREATE TABLE nonces (
        nonce      text PRIMARY KEY,
        device_id  text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
        issued_at  timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        used_at    timestamptz
      );
      CREATE INDEX nonces_expires_idx ON nonces (expires_at);

      -- A rollout of one release to one hardware id; the rollout orchestrator owns its state.
      CREATE TABLE rollouts (
        id               text PRIMARY KEY,
        hardware_id      text NOT NULL,
        channel          text NOT NULL,
        release_version  text NOT NULL,
        previous_version text,
        state            text NOT NULL CHECK (state IN ('active', 'halted', 'rolling-back', 'finished', 'aborted')),
        created_at       timestamptz NOT NULL DEFAULT now(),
        updated_at       timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX rollouts_hardware_state_idx ON rollouts (hardware_id, state);

      -- Which device may get which release: offer (install it), hold (stay put), rollback (return).
      CREATE TABLE rollout_assignments (
        rollout_id      text NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
        device_id       text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
        ring            text NOT NULL,
        release_version text NOT NULL,
        action          text NOT NULL CHECK (action IN ('offer', 'hold', 'rollback')),
        reason          text,
        assigned_at     timestamptz NOT NULL DEFAULT now(),
        updated_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (rollout_id, device_id)
      );
      CREATE INDEX rollout_assignments_ring_idx ON rollout_assignments (rollout_id, ring);
      CREATE INDEX rollout_assignments_device_idx ON rollout_assignments (device_id);
    `,
  },
  {
    version: 2,
    name: 'rollout install slots (max_concurrent_installs)',
    sql: `
      -- The policy's maxConcurrentInstalls, enforced by the gateway at check-in; NULL = unlimited.
      ALTER TABLE rollouts ADD COLUMN max_concurrent_installs integer CHECK (max_concurrent_installs > 0);
      -- Counting busy install slots runs on every throttled check-in: start from the few devices
      -- whose latest report is mid-install for a release, never from the whole rollout.
      CREATE INDEX device_state_installing_idx ON device_state (release_version)
        WHERE state IN ('downloading', 'installed', 'booted');
    `,
  },
  {
    version: 3,
    name: 'attempts: retry clearance, first offer, ring plan for late devices',
    sql: `
      -- ota fleet retry: failures reported before retry_from no longer keep the release from the device
      -- (they stay counted in ring health). offered_at: when the gateway first offered the release
      -- to the device (its install deadline starts there); a retry resets it.
      ALTER TABLE rollout_assignments ADD COLUMN retry_from timestamptz;
      ALTER TABLE rollout_assignments ADD COLUMN offered_at timestamptz;
      -- The rollout's target and ring plan, so the gateway can place a device that enrolls (or
      -- matches) while the rollout is open. NULL target_labels: a rollout from before (no late joins).
      ALTER TABLE rollouts ADD COLUMN target_labels jsonb;
      CREATE TABLE rollout_rings (
        rollout_id               text NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
        name                     text NOT NULL,
        position                 integer NOT NULL,
        -- The policy's cumulative size: {"count": n} or {"percent": p}.
        size                     jsonb NOT NULL,
        labels                   jsonb NOT NULL DEFAULT '{}'::jsonb,
        install_deadline_seconds integer CHECK (install_deadline_seconds > 0),
        opened_at                timestamptz,
        PRIMARY KEY (rollout_id, name)
      );
    `,
  },
  {
    version: 4,
    name: 'signed heartbeats (post-commit health, control cohort)',
    sql: `
      -- Heartbeats have their own counter sequence, so they never race the report queue's.
      ALTER TABLE device_state ADD COLUMN last_heartbeat_counter bigint NOT NULL DEFAULT 0;
      CREATE TABLE heartbeats (
        id               bigserial PRIMARY KEY,
        device_id        text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
        counter          bigint NOT NULL,
        nonce            text NOT NULL,
        release_version  text,
        image_sha256     text NOT NULL,
        slot             text NOT NULL,
        boot_count       integer NOT NULL,
        boots_since_last integer NOT NULL,
        crash_loop       boolean NOT NULL,
        uptime_seconds   bigint NOT NULL,
        checks_run       integer NOT NULL,
        checks_failed    integer NOT NULL,
        failed_checks    jsonb NOT NULL,
        metrics          jsonb NOT NULL,
        window_seconds   integer NOT NULL,
        -- A post-commit failure in this window: a failing health check or a crash loop.
        failed           boolean NOT NULL,
        sent_at          timestamptz NOT NULL,
        received_at      timestamptz NOT NULL DEFAULT now(),
        payload          text NOT NULL,
        signature        text NOT NULL,
        key_algorithm    text NOT NULL,
        UNIQUE (device_id, counter)
      );
      -- Cohort aggregates: a window of heartbeats by device and release.
      CREATE INDEX heartbeats_received_idx ON heartbeats (received_at, device_id);
      CREATE INDEX heartbeats_device_idx ON heartbeats (device_id, received_at);
    `,
  },
  {
    version: 5,
    name: 'exposure budget for late joiners',
    sql: `
      -- The policy's exposureBudget ({"count": n} or {"percent": p}), so a device joining an open ring
      -- late cannot push exposure past it before the last ring; NULL: a rollout from before (no cap).
      ALTER TABLE rollouts ADD COLUMN exposure_budget jsonb;
    `,
  },
  {
    version: 6,
    name: 'per-device rollback target (from_version)',
    sql: `
      -- The release the device ran when it was assigned: a rollback returns it there (when that is
      -- published), not to the rollout's previous_version. NULL: unknown (falls back to the rollout's).
      ALTER TABLE rollout_assignments ADD COLUMN from_version text;
    `,
  },
  {
    version: 7,
    name: 'per-device admission: preauthorizations, enrollment tokens, factory CAs, pending devices',
    sql: `
      -- Mender-style preauthorization: the operator names the device, its key and its selectors first.
      CREATE TABLE device_preauthorizations (
        device_id      text PRIMARY KEY,
        hardware_id    text NOT NULL,
        channel        text NOT NULL,
        labels         jsonb NOT NULL DEFAULT '{}'::jsonb,
        public_key_pem text NOT NULL,
        key_algorithm  text NOT NULL,
        created_at     timestamptz NOT NULL DEFAULT now()
      );
      -- Single-use tokens per device: only the SHA-256 of the token is kept.
      CREATE TABLE enrollment_tokens (
        token_sha256 text PRIMARY KEY,
        device_id    text NOT NULL,
        hardware_id  text,
        channel      text NOT NULL,
        labels       jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at   timestamptz NOT NULL DEFAULT now(),
        expires_at   timestamptz NOT NULL,
        used_at      timestamptz
      );
      CREATE INDEX enrollment_tokens_device_idx ON enrollment_tokens (device_id);
      -- Manufacturer CAs whose device certificates (IDevIDs) may ask for admission; an optional
      -- auto-accept pattern over device ids, and the selectors accepted devices get.
      CREATE TABLE factory_cas (
        fingerprint     text PRIMARY KEY,
        name            text NOT NULL,
        certificate_pem text NOT NULL,
        auto_accept     text,
        channel         text NOT NULL,
        labels          jsonb NOT NULL DEFAULT '{}'::jsonb,
        added_at        timestamptz NOT NULL DEFAULT now()
      );
      -- Devices that proved a factory identity and wait for an operator (pending), or were refused.
      CREATE TABLE admission_requests (
        device_id       text PRIMARY KEY,
        hardware_id     text NOT NULL,
        public_key_pem  text NOT NULL,
        key_algorithm   text NOT NULL,
        factory_ca      text NOT NULL,
        certificate_pem text NOT NULL,
        state           text NOT NULL CHECK (state IN ('pending', 'rejected')),
        requested_at    timestamptz NOT NULL DEFAULT now(),
        decided_at      timestamptz
      );
    `,
  },
  {
    version: 8,
    name: 'device certificates (issued serials, revocation, request freshness)',
    sql: `
      -- Every client certificate the gateway issued: the serial (hex, as Node prints it) is what a TLS
      -- peer presents; revoked_at is the per-request deny-list beside devices.revoked_at.
      CREATE TABLE device_certificates (
        serial         text PRIMARY KEY,
        device_id      text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
        not_before     timestamptz NOT NULL,
        not_after      timestamptz NOT NULL,
        issued_at      timestamptz NOT NULL DEFAULT now(),
        -- The signed request's sentAt: a request is honoured only when newer than the last (no replay).
        requested_at   timestamptz NOT NULL,
        revoked_at     timestamptz,
        revoked_reason text
      );
      CREATE INDEX device_certificates_device_idx ON device_certificates (device_id, requested_at);
    `,
  },
  {
    version: 9,
    name: 'attestation keys, attestation evidence, quarantines',
    sql: `
      -- A device's TPM attestation key (AK), registered once at admission; a device without a row
      -- signs with a software key (the lower assurance level).
      CREATE TABLE attestation_keys (
        device_id         text PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
        ak_pem            text NOT NULL,
        ak_qualified_name text NOT NULL,
        ek_pem            text NOT NULL,
        registered_at     timestamptz NOT NULL DEFAULT now()
      );
      -- Every verified or refused quote, with its evidence (PCR values, TPM counters, signer).
      CREATE TABLE attestations (
        id              bigserial PRIMARY KEY,
        device_id       text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
        at              timestamptz NOT NULL DEFAULT now(),
        ok              boolean NOT NULL,
        code            text,
        detail          text,
        release_version text,
        evidence        jsonb NOT NULL
      );
      CREATE INDEX attestations_device_idx ON attestations (device_id, at DESC, id DESC);
      -- Quarantine decisions: why (code, reason, evidence), what the device may install, who released it.
      CREATE TABLE quarantines (
        id                  bigserial PRIMARY KEY,
        device_id           text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
        since               timestamptz NOT NULL DEFAULT now(),
        code                text NOT NULL,
        reason              text NOT NULL,
        evidence            jsonb NOT NULL DEFAULT '{}'::jsonb,
        remediation_version text,
        released_at         timestamptz,
        released_by         text,
        release_note        text
      );
      CREATE UNIQUE INDEX quarantines_open_idx ON quarantines (device_id) WHERE released_at IS NULL;
    `,
  },
  {
    version: 10,
    name: 'operator audit log and API tokens',
    sql: `
      -- Hash-chained (fleet/audit.ts): each row's hash covers its fields and prev_hash. at and detail
      -- are text so the hashed bytes come back exactly as written.
      CREATE TABLE audit_log (
        seq       bigint PRIMARY KEY,
        at        text NOT NULL,
        actor     text NOT NULL,
        role      text NOT NULL,
        action    text NOT NULL,
        target    text NOT NULL,
        reason    text,
        result    text NOT NULL,
        detail    text NOT NULL,
        prev_hash text NOT NULL,
        hash      text NOT NULL
      );
      CREATE INDEX audit_log_target_idx ON audit_log (target, seq);

      -- Only the sha256 of a token (fleet/operator-tokens.ts).
      CREATE TABLE operator_tokens (
        id         text PRIMARY KEY,
        name       text NOT NULL,
        role       text NOT NULL,
        token_hash text NOT NULL UNIQUE,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz
      );
    `,
  },
  {
    version: 11,
    name: 'desired device state and drift events',
    sql: `
      -- What operators want of a hardware id's devices (ring '' = every ring; a ring's row overrides
      -- per field). NULL: not judged. fleet/drift.ts.
      CREATE TABLE desired_states (
        hardware_id       text NOT NULL,
        ring              text NOT NULL DEFAULT '',
        allowed_ports     jsonb,
        allowed_services  jsonb,
        config_digest     text,
        min_agent_version text,
        updated_at        timestamptz NOT NULL DEFAULT now(),
        updated_by        text,
        PRIMARY KEY (hardware_id, ring)
      );
      -- A drift seen in a device's posture heartbeats: open while heartbeats show it, resolved when
      -- one no longer does. One open event per device, kind and subject (a port, a service, or '').
      CREATE TABLE drift_events (
        id            bigserial PRIMARY KEY,
        device_id     text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
        kind          text NOT NULL,
        subject       text NOT NULL DEFAULT '',
        detail        jsonb NOT NULL DEFAULT '{}'::jsonb,
        first_seen    timestamptz NOT NULL DEFAULT now(),
        last_seen     timestamptz NOT NULL DEFAULT now(),
        first_counter bigint,
        last_counter  bigint,
        resolved_at   timestamptz
      );
      CREATE UNIQUE INDEX drift_events_open_idx ON drift_events (device_id, kind, subject) WHERE resolved_at IS NULL;
      CREATE INDEX drift_events_device_idx ON drift_events (device_id, first_seen DESC, id DESC);
    `,
  },
  {
    version: 12,
    name: 'on-demand delta requests',
    sql: `
      -- fleet/delta-requests.ts: the gateway asks, the worker's dispatcher claims, deltaWorkflow records.
      CREATE TABLE delta_requests (
        hardware_id   text NOT NULL,
        to_version    text NOT NULL,
        from_sha256   text NOT NULL,
        format        text NOT NULL,
        channel       text NOT NULL,
        from_version  text NOT NULL,
        to_sha256     text NOT NULL,
        workflow_id   text NOT NULL,
        state         text NOT NULL CHECK (state IN ('pending', 'generating', 'ready', 'skipped', 'failed')),
        requests      integer NOT NULL DEFAULT 1,
        requested_at  timestamptz NOT NULL DEFAULT now(),
        claimed_at    timestamptz,
        ready_at      timestamptz,
        last_used_at  timestamptz,
        sha256        text,
        length        bigint,
        location      text,
        target_path   text,
        detail        text,
        generation_ms integer,
        PRIMARY KEY (hardware_id, to_version, from_sha256, format)
      );
      CREATE INDEX delta_requests_state_idx ON delta_requests (state, requested_at);
    `,
  },
  {
    version: 13,
    name: 'attestation key credential activation',
    sql: `
      -- An AK counts only once the device proved it lives in the TPM of the EK it named
      -- (TPM2_ActivateCredential): 'pending-activation' until then. Keys registered before this
      -- migration stay 'active' (trust on first use, as they were admitted).
      ALTER TABLE attestation_keys ADD COLUMN status text NOT NULL DEFAULT 'active';
      ALTER TABLE attestation_keys ADD COLUMN ak_name text;
      -- Only the sha256 of the credential's secret, never the secret.
      ALTER TABLE attestation_keys ADD COLUMN activation_secret_sha256 text;
      ALTER TABLE attestation_keys ADD COLUMN activated_at timestamptz;
    `,
  },
  {
    version: 15,
    name: 'TPM vendor CAs, endorsement key trust',
    sql: `
      -- Manufacturer CAs whose EK certificates show an endorsement key is a TPM's (ota fleet tpm-ca).
      CREATE TABLE tpm_vendor_cas (
        fingerprint     text PRIMARY KEY,
        name            text NOT NULL,
        certificate_pem text NOT NULL,
        added_at        timestamptz NOT NULL DEFAULT now()
      );
      -- What the gateway made of the EK when the AK was registered: 'vendor-ca' (with the CA) or
      -- 'unverified' (with why); keys registered before this migration have neither.
      ALTER TABLE attestation_keys ADD COLUMN ek_trust text;
      ALTER TABLE attestation_keys ADD COLUMN ek_ca_fingerprint text;
      ALTER TABLE attestation_keys ADD COLUMN ek_warning text;
      ALTER TABLE attestation_keys ADD COLUMN ek_certificate text;
    `,
  },
];

/** Applies every migration newer than the database's; returns the versions applied. */
export async function applyMigrations(db: FleetDatabase, list: readonly Migration[] = migrations): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await tx.query<{ version: number | string }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => Number(r.version)));
    const newest = Math.max(0, ...done);
    const known = Math.max(0, ...list.map((m) => m.version));
    // A database migrated by newer code may hold tables this code misreads: refuse instead.
    if (newest > known) throw new Error(`fleet database schema is version ${newest}, newer than this build understands (${known}); upgrade ota`);
    const applied: number[] = [];
    for (const migration of [...list].sort((a, b) => a.version - b.version)) {
      if (done.has(migration.version)) continue;
      await tx.exec(migration.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
      applied.push(migration.version);
    }
    return applied;
  });
}
