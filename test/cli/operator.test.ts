// `ota operator token create|list|revoke` and `ota audit [--verify]` on the host's own fleet
// database (compiled CLI, PGlite under OTA_STATE_DIR): the secret is printed once and never
// stored, and both changes are in the hash-chained audit log.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetStore } from '../../fleet/fleet-store.js';
import { ensureDist, OTA_BIN } from '../support/dist.js';

const run = promisify(execFile);

describe('ota operator token and ota audit', () => {
  let skipReason: string | undefined;
  let stateDir: string;
  const ota = (...args: string[]) =>
    run(process.execPath, [OTA_BIN, ...args], { env: { ...process.env, OTA_STATE_DIR: stateDir }, timeout: 120_000 }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
    );

  beforeAll(async () => {
    skipReason = await ensureDist();
    if (skipReason) console.error(`\n*** SKIPPING operator CLI test: ${skipReason} ***\n`);
    stateDir = mkdtempSync(join(tmpdir(), 'ota-operator-cli-'));
  }, 180_000);
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

  it('creates, lists and revokes a token; the audit log has both and verifies', async (ctx) => {
    if (skipReason) return ctx.skip();
    const bad = await ota('operator', 'token', 'create', '--role', 'root', '--ttl', '1h');
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe('ota: --role must be one of viewer, release-engineer, approver, fleet-admin, admin, got root');

    const created = await ota('operator', 'token', 'create', '--role', 'viewer', '--ttl', '2h', '--name', 'dashboard', '--json');
    expect(created.code).toBe(0);
    const record = JSON.parse(created.stdout) as { id: string; token: string; role: string; expiresAt: string };
    expect(record.token).toMatch(/^ota_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(record.role).toBe('viewer');
    expect(Date.parse(record.expiresAt) - Date.now()).toBeGreaterThan(3600_000);

    expect((await ota('operator', 'token', 'revoke', record.id, '--reason', 'rotated')).stdout).toContain(`revoked token ${record.id}`);
    const listed = await ota('operator', 'token', 'list');
    expect(listed.stdout).toMatch(new RegExp(`${record.id}\\s+dashboard\\s+viewer.*REVOKED`));
    expect(listed.stdout).not.toContain(record.token);

    const audit = JSON.parse((await ota('audit', '--json')).stdout) as Array<{ action: string; target: string; reason: string | null; role: string }>;
    expect(audit.map((e) => `${e.action} ${e.target}`)).toEqual([`token.create token:${record.id}`, `token.revoke token:${record.id}`]);
    expect(audit[1]).toMatchObject({ reason: 'rotated', role: 'admin' });
    expect(await ota('audit', '--verify')).toMatchObject({ code: 0, stdout: 'audit chain intact: 2 entries\n' });

    // The database holds the hash, never the secret; a changed entry is named.
    const fleet = await FleetStore.open(`pglite:${join(stateDir, 'fleet')}`);
    try {
      const { rows } = await fleet.db.query<{ token_hash: string }>('SELECT token_hash FROM operator_tokens');
      expect(rows[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.stringify(rows)).not.toContain(record.token.slice(17));
      await fleet.db.query("UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 2");
    } finally {
      await fleet.close();
    }
    const broken = await ota('audit', '--verify');
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/^audit chain BROKEN at entry #2: /);
  }, 300_000);
});
