// What an mTLS check-in asks the fleet store, counted at the database: the client certificate's
// serial read with the device row (its key, revocation, hardware, channel), then the nonce spent, the
// state recorded, the next nonce issued and the offer facts read in one statement. Two round trips
// per check-in (four before), whether the answer is `none` or comes from an open rollout; a report
// takes two (certificate with device row, the report's one statement). A replayed check-in is still
// refused and changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signPayload } from '../../schemas/device-envelope.js';
import type { CheckinRequest, HealthReport } from '../../schemas/device-api.js';
import { enrollCertified, startMtlsGateway, type CertifiedTestDevice, type MtlsGateway } from '../support/mtls-gateway.js';

const TOKEN = 'round-trips-token-0123456789';
const HW = 'round-trips-hw';

const checkinOf = (id: string, nonce: string): CheckinRequest => ({
  type: 'checkin', deviceId: id, hardwareId: HW, currentVersion: '1.0.0', imageSha256: 'a'.repeat(64), bootedSlot: 'A',
  securityVersion: 1, supportedDeltaFormats: [], nonce, sentAt: new Date().toISOString(), acceptsNextNonce: true,
});

describe('round trips to the fleet store per mTLS request', () => {
  let env: MtlsGateway;
  let device: CertifiedTestDevice;
  let statements: string[] = [];
  beforeAll(async () => {
    env = await startMtlsGateway('ota-round-trips-', TOKEN);
    device = await enrollCertified(env, TOKEN, 'round-trips-a', HW);
    const db = env.fleet.db;
    const query = db.query.bind(db);
    db.query = ((sql: string, params?: unknown[]) => {
      statements.push(sql.replace(/\s+/g, ' ').slice(0, 80));
      return query(sql, params);
    }) as typeof db.query;
  }, 60_000);
  afterAll(() => env?.close());

  /** The request's answer and the statements it took. */
  async function counted(method: string, path: string, body?: unknown) {
    statements = [];
    const answer = await device.call(method, path, body);
    return { answer, statements: [...statements] };
  }

  it('a check-in over the last answer\'s nextNonce takes two, with no rollout and with an open one', async () => {
    const first = await counted('GET', `/v1/nonce?device=${device.id}`);
    expect(first.answer.status).toBe(200);
    let nonce = first.answer.json!.nonce as string;

    const none = await counted('POST', '/v1/checkin', signPayload(checkinOf(device.id, nonce), device.key));
    expect(none.answer.status, JSON.stringify(none.answer.json)).toBe(200);
    expect(none.answer.json).toMatchObject({ action: 'none' });
    expect(none.statements, none.statements.join('\n')).toHaveLength(2);
    nonce = (none.answer.json!.nextNonce as { nonce: string }).nonce;

    // An open rollout holding the device: the answer comes from the facts read with the spend.
    await env.fleet.createRollout({ id: 'round-trips-r1', hardwareId: HW, channel: 'stable', releaseVersion: '2.0.0', previousVersion: '1.0.0' });
    await env.fleet.recordRingPlan('round-trips-r1', {}, [{ name: 'all', size: { percent: 100 }, labels: {}, installDeadlineSeconds: 3600 }]);
    await env.fleet.assignDevices('round-trips-r1', [{ deviceId: device.id, ring: 'all' }], 'hold');
    const held = await counted('POST', '/v1/checkin', signPayload(checkinOf(device.id, nonce), device.key));
    expect(held.answer.json, JSON.stringify(held.answer.json)).toMatchObject({ action: 'hold', rolloutId: 'round-trips-r1' });
    expect(held.statements, held.statements.join('\n')).toHaveLength(2);

    // The same signed check-in again: refused as a replay, and the device's state did not move.
    const before = await env.fleet.getDeviceWithState(device.id);
    const replay = await counted('POST', '/v1/checkin', signPayload(checkinOf(device.id, nonce), device.key));
    expect([replay.answer.status, replay.answer.json?.error]).toEqual([409, 'nonce-used']);
    expect(await env.fleet.getDeviceWithState(device.id)).toEqual(before);
  });

  it('a report takes two after its nonce', async () => {
    const issued = await device.call('GET', `/v1/nonce?device=${device.id}`);
    const last = (await env.fleet.getDeviceWithState(device.id))!.state.lastCounter;
    const report: HealthReport = {
      type: 'report', deviceId: device.id, releaseVersion: '1.0.0', imageSha256: 'a'.repeat(64), slot: 'A', bootCount: 1, state: 'committed',
      metrics: { crashCount: 0, uptimeSeconds: 60, freeMemoryBytes: 1 << 20 }, custom: {}, createdAt: new Date().toISOString(), counter: last + 1, nonce: issued.json!.nonce as string,
    };
    const stored = await counted('POST', '/v1/reports', signPayload(report, device.key));
    expect(stored.answer.json, JSON.stringify(stored.answer.json)).toMatchObject({ status: 'accepted', counter: last + 1 });
    expect(stored.statements, stored.statements.join('\n')).toHaveLength(2);
  });
});
