// The fleet routes a fleet-admin uses on devices that are not plainly enrolled: accept or reject a
// pending factory-identity device, release a quarantine. Through the real API on a PGlite fleet
// store: a viewer (and a release engineer) is refused with FORBIDDEN and nothing changes; the
// fleet-admin's change lands; every call is in the audit log and the chain still holds.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetStore, type AuditEntry } from '../../fleet/fleet-store.js';
import { startOperatorApi, type RunningOperatorApi } from '../../operator/app.js';
import { LocalArtifactStore } from '../../stores/local-store.js';
import { operatorCaller, requestPendingAdmission } from '../support/operator-calls.js';

const HW = 'board-x';

describe('operator API: accept, reject, quarantine release', () => {
  let dir: string;
  let fleet: FleetStore;
  let api: RunningOperatorApi;
  const tokens: Record<string, string> = {};

  const call = operatorCaller(() => api.url);
  const pending = (deviceId: string) =>
    requestPendingAdmission(fleet, deviceId, HW, { factoryCa: 'ab'.repeat(32), certificatePem: '-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n' });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ota-fleet-admission-api-'));
    fleet = await FleetStore.open(`pglite:${join(dir, 'fleet')}`);
    api = await startOperatorApi({ host: '127.0.0.1', port: 0, version: 'test', fleet, store: new LocalArtifactStore(join(dir, 'store')) });
    for (const [name, role] of [['viewer', 'viewer'], ['engineer', 'release-engineer'], ['ops', 'fleet-admin']] as const) {
      tokens[name] = (await fleet.createOperatorToken({ name, role, ttlSeconds: 3600, createdBy: 'test' })).token;
    }
    await pending('factory-1');
    await pending('factory-2');
  }, 120_000);

  afterAll(async () => {
    await api?.close();
    await fleet?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists pending devices; a viewer cannot accept or reject; a fleet-admin accepts with selectors and rejects', async () => {
    const listed = await call('GET', '/v1/admissions', tokens.viewer);
    expect(listed.body.requests.map((r: { deviceId: string; state: string }) => `${r.deviceId} ${r.state}`)).toEqual(['factory-1 pending', 'factory-2 pending']);
    expect(JSON.stringify(listed.body)).not.toContain('BEGIN');

    for (const token of [tokens.viewer, tokens.engineer]) {
      const refused = await call('POST', '/v1/devices/factory-1/accept', token, { channel: 'beta' });
      expect([refused.status, refused.body.error.code]).toEqual([403, 'FORBIDDEN']);
      expect((await call('POST', '/v1/devices/factory-2/reject', token, {})).body.error.code).toBe('FORBIDDEN');
    }
    expect(await fleet.admissionState('factory-1')).toBe('pending');
    expect(await fleet.admissionState('factory-2')).toBe('pending');

    const accepted = await call('POST', '/v1/devices/factory-1/accept', tokens.ops, { channel: 'beta', labels: { site: 'lab' }, reason: 'serial checked' });
    expect(accepted).toMatchObject({ status: 200, body: { deviceId: 'factory-1', accepted: true, hardwareId: HW, channel: 'beta', labels: { site: 'lab' } } });
    expect(await fleet.getDevice('factory-1')).toMatchObject({ channel: 'beta', labels: { site: 'lab' } });
    const again = await call('POST', '/v1/devices/factory-1/accept', tokens.ops, {});
    expect([again.status, again.body.error.code]).toEqual([409, 'CONFLICT']);
    expect((await call('POST', '/v1/devices/nobody/accept', tokens.ops, {})).body.error.code).toBe('NOT_FOUND');
    // Selectors are checked as the device API checks them.
    expect((await call('POST', '/v1/devices/factory-2/accept', tokens.ops, { channel: 'Not A Channel!' })).body.error.code).toBe('BAD_REQUEST');

    expect((await call('POST', '/v1/devices/factory-2/reject', tokens.ops, { reason: 'unknown serial' })).body).toEqual({ deviceId: 'factory-2', rejected: true });
    expect(await fleet.admissionState('factory-2')).toBe('rejected');
    expect((await call('POST', '/v1/devices/factory-2/reject', tokens.ops, {})).body.error.code).toBe('CONFLICT');
  });

  it('a viewer cannot release a quarantine; a fleet-admin does, recorded under their name', async () => {
    await fleet.openQuarantine({ deviceId: 'factory-1', code: 'PCR_MISMATCH', reason: 'boot PCR unknown', evidence: { pcr: 9 }, remediationVersion: '1.0.1' });
    expect((await call('GET', '/v1/quarantines', tokens.viewer)).body.quarantines).toMatchObject([{ deviceId: 'factory-1', code: 'PCR_MISMATCH', releasedAt: null }]);

    const refused = await call('POST', '/v1/devices/factory-1/quarantine/release', tokens.viewer, { note: 'reflashed' });
    expect([refused.status, refused.body.error.code]).toEqual([403, 'FORBIDDEN']);
    expect(await fleet.openQuarantineFor('factory-1')).toBeDefined();

    const released = await call('POST', '/v1/devices/factory-1/quarantine/release', tokens.ops, { note: 'reflashed' });
    expect(released.body).toEqual({ deviceId: 'factory-1', released: true, code: 'PCR_MISMATCH', releasedBy: 'token:ops', releaseNote: 'reflashed' });
    expect(await fleet.openQuarantineFor('factory-1')).toBeUndefined();
    expect((await call('GET', '/v1/quarantines?all=true', tokens.viewer)).body.quarantines).toMatchObject([{ deviceId: 'factory-1', releasedBy: 'token:ops' }]);
    expect((await call('POST', '/v1/devices/factory-1/quarantine/release', tokens.ops, {})).body.error.code).toBe('NOT_FOUND');
  });

  it('every call is in the audit log, the chain holds, and the OpenAPI document has the routes', async () => {
    const entries = (await call('GET', '/v1/audit?limit=5000', tokens.viewer)).body.entries as AuditEntry[];
    const brief = entries.map((e) => `${e.actor} ${e.action} ${e.target} ${e.result}${e.detail.code ? ` ${String(e.detail.code)}` : ''}`);
    expect(brief).toEqual([
      'token:viewer fleet.accept factory-1 refused FORBIDDEN',
      'token:viewer fleet.reject factory-2 refused FORBIDDEN',
      'token:engineer fleet.accept factory-1 refused FORBIDDEN',
      'token:engineer fleet.reject factory-2 refused FORBIDDEN',
      'token:ops fleet.accept factory-1 ok',
      'token:ops fleet.accept factory-1 refused CONFLICT',
      'token:ops fleet.accept nobody refused NOT_FOUND',
      'token:ops fleet.accept factory-2 refused BAD_REQUEST',
      'token:ops fleet.reject factory-2 ok',
      'token:ops fleet.reject factory-2 refused CONFLICT',
      'token:viewer fleet.quarantine-release factory-1 refused FORBIDDEN',
      'token:ops fleet.quarantine-release factory-1 ok',
      'token:ops fleet.quarantine-release factory-1 refused NOT_FOUND',
    ]);
    expect(entries.find((e) => e.action === 'fleet.accept' && e.result === 'ok')).toMatchObject({ role: 'fleet-admin', reason: 'serial checked' });
    expect(entries.find((e) => e.action === 'fleet.quarantine-release' && e.result === 'ok')).toMatchObject({ reason: 'reflashed' });
    expect((await call('GET', '/v1/audit/verify', tokens.viewer)).body).toEqual({ ok: true, entries: entries.length });

    const doc = (await call('GET', '/openapi.json')).body;
    expect(doc.paths['/v1/devices/{id}/accept'].post['x-ota-action']).toBe('fleet.accept');
    expect(doc.paths['/v1/devices/{id}/reject'].post['x-ota-action']).toBe('fleet.reject');
    expect(doc.paths['/v1/devices/{id}/quarantine/release'].post['x-ota-action']).toBe('fleet.quarantine-release');
    expect(doc.paths['/v1/devices/{id}/accept'].post.requestBody.content['application/json'].schema.properties.labels).toBeDefined();
  });
});
