// Simulated devices check in with one request after their first: each signs its next check-in over
// the nextNonce of the last answer (over mTLS, as the fleet does); an older device (twoStepCheckin)
// fetches a nonce every time.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateDeviceKey } from '../../schemas/device-envelope.js';
import { ProtocolDevice } from '../../sim/protocol-device.js';
import { startMtlsGateway, type MtlsGateway } from '../support/mtls-gateway.js';

const TOKEN = 'sim-next-nonce-token-0123456789';
let env: MtlsGateway;

beforeAll(async () => {
  env = await startMtlsGateway('ota-sim-next-nonce-', TOKEN);
}, 60_000);
afterAll(() => env?.close());

const simDevice = (id: string, twoStepCheckin = false) =>
  new ProtocolDevice({
    id, hardwareId: 'sim-nn-hw', channel: 'stable', labels: {}, key: generateDeviceKey('ed25519'), gatewayUrl: env.url,
    factory: { version: '1.0.0', imageSha256: 'b'.repeat(64), securityVersion: 0 }, fleetCaPem: env.ca.root.certPem, twoStepCheckin,
  });
const noRelease = async () => {
  throw new Error('no release is offered');
};
const nonceRows = async (id: string, where: string) => Number((await env.fleet.db.query<{ n: number | string }>(`SELECT count(*) AS n FROM nonces WHERE device_id = $1 AND ${where}`, [id])).rows[0]!.n);

it('signs every check-in after the first over the last answer nextNonce; an older device asks for a nonce each time', async () => {
  const [current, older] = [simDevice('sim-nn-0'), simDevice('sim-nn-1', true)];
  for (const device of [current, older]) {
    await device.enroll(TOKEN);
    for (let i = 0; i < 3; i++) expect(await device.checkIn(() => ({ result: 'commit' }), noRelease)).toEqual({ action: 'none' });
  }
  expect(current.checkinNonces).toEqual({ held: 2, fetched: 1 });
  expect(older.checkinNonces).toEqual({ held: 0, fetched: 3 });
  // Three spent each; the current device holds one more, unspent, for its next check-in.
  expect(await nonceRows('sim-nn-0', 'used_at IS NOT NULL')).toBe(3);
  expect(await nonceRows('sim-nn-1', 'used_at IS NOT NULL')).toBe(3);
  expect(await nonceRows('sim-nn-0', 'used_at IS NULL')).toBe(1);
  expect(await nonceRows('sim-nn-1', 'used_at IS NULL')).toBe(0);
}, 60_000);
