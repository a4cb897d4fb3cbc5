// Attacks on enrollment (issue 14, item 2), against a real gateway and fleet store over HTTP:
// the old fleet-wide token, labels chosen by the device, tokens reused / expired / for another
// device, a factory certificate from a CA nobody trusts, a forged proof for a preauthorized key,
// and a pending device asking for nonces. Each is refused with its own code and changes nothing.
import { beforeAll, describe, expect, it } from 'vitest';
import { certificateFingerprint } from '../../gateway/factory-identity.js';
import { startTempGateway, useTempGateway } from '../support/temp-gateway.js';
import { generateDeviceKey, type DeviceKey } from '../../schemas/device-envelope.js';
import { enrollBody, postEnroll, preauthorizeDevice } from '../support/admission.js';
import { factoryChain, makeFactoryCa } from '../support/factory-ca.js';

const HW = 'gw-attack';
const SHARED = 'the-old-fleet-wide-token-0123456789';
const env = useTempGateway('ota-attack-admission-');

/** Every admission-related table, so "no state change" is checked, not assumed. */
async function snapshot(): Promise<string> {
  const tables = ['devices', 'device_state', 'device_preauthorizations', 'enrollment_tokens', 'admission_requests', 'nonces'];
  const parts = await Promise.all(tables.map(async (t) => JSON.stringify((await env.fleet.db.query(`SELECT * FROM ${t} ORDER BY 1`)).rows)));
  return parts.join('\n');
}

/** The request is refused with `status` and `code`, and the fleet store is exactly as before. */
async function refusedWithoutChange(attempt: () => Promise<{ status: number; json?: Record<string, unknown> }>, status: number, code: string): Promise<void> {
  const before = await snapshot();
  const res = await attempt();
  expect(res, JSON.stringify(res.json)).toMatchObject({ status, json: { error: code } });
  expect(await snapshot()).toBe(before);
}

const device = (id: string, key: DeviceKey = generateDeviceKey('ed25519')) => ({ id, hardwareId: HW, key });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const token = async (deviceId: string, labels: Record<string, string> = { ring: 'pilot' }) => (await env.fleet.createEnrollmentToken({ deviceId, ttlSeconds: 3600, channel: 'stable', labels })).token;

describe('attack: enrollment with the fleet-wide shared token', () => {
  it('is refused by default, in the old body (labels) and in the new one', async () => {
    const d = device('shared-1');
    const oldBody = { deviceId: d.id, hardwareId: HW, channel: 'stable', labels: { ring: 'canary' }, publicKey: { algorithm: d.key.algorithm, pem: d.key.publicKeyPem } };
    await refusedWithoutChange(() => postEnroll(env.gateway.url, oldBody, bearer(SHARED)), 400, 'device-selectors-refused');
    await refusedWithoutChange(() => postEnroll(env.gateway.url, enrollBody(d), bearer(SHARED)), 401, 'enrollment-token-invalid');
  });

  it('behind --insecure-shared-token (lab) it admits, but with no labels: the device still picks no ring', async () => {
    const lab = await startTempGateway('ota-attack-lab-', { insecureSharedToken: SHARED });
    try {
      expect((await postEnroll(lab.gateway.url, enrollBody(device('lab-1')), bearer(SHARED))).status).toBe(201);
      expect(await lab.fleet.getDevice('lab-1')).toMatchObject({ channel: 'stable', labels: {} });
    } finally {
      await lab.close();
    }
  });
});

describe('attack: device-chosen labels pick a ring', () => {
  it('labels, channel or ring in the enroll body are refused (token not spent); the operator\'s labels are what the device gets', async () => {
    const d = device('labels-1');
    const t = await token(d.id, { ring: 'pilot' });
    for (const selectors of [{ labels: { ring: 'canary' } }, { channel: 'beta' }, { ring: 'canary' }]) {
      await refusedWithoutChange(() => postEnroll(env.gateway.url, { ...enrollBody(d), ...selectors }, bearer(t)), 400, 'device-selectors-refused');
    }
    expect((await postEnroll(env.gateway.url, enrollBody(d), bearer(t))).status).toBe(201);
    expect(await env.fleet.getDevice(d.id)).toMatchObject({ labels: { ring: 'pilot' } });
    expect((await env.fleet.devicesBySelector({ hardwareId: HW, labels: { ring: 'canary' } })).map((x) => x.id)).not.toContain(d.id);
  });
});

describe('attack: enrollment tokens', () => {
  it('a reused token is refused', async () => {
    const t = await token('reuse-1');
    expect((await postEnroll(env.gateway.url, enrollBody(device('reuse-1')), bearer(t))).status).toBe(201);
    await refusedWithoutChange(() => postEnroll(env.gateway.url, enrollBody(device('reuse-1')), bearer(t)), 401, 'enrollment-token-used');
  });

  it('an expired token is refused', async () => {
    const t = await token('expired-1');
    await env.fleet.db.query(`UPDATE enrollment_tokens SET expires_at = now() - interval '1 second' WHERE device_id = $1`, ['expired-1']);
    await refusedWithoutChange(() => postEnroll(env.gateway.url, enrollBody(device('expired-1')), bearer(t)), 401, 'enrollment-token-expired');
  });

  it("another device's token is refused, and stays usable by its own device", async () => {
    const t = await token('owner-1');
    await refusedWithoutChange(() => postEnroll(env.gateway.url, enrollBody(device('thief-1')), bearer(t)), 403, 'enrollment-token-wrong-device');
    expect((await postEnroll(env.gateway.url, enrollBody(device('owner-1')), bearer(t))).status).toBe(201);
  });

  it('a malformed or oversized authorization header is refused', async () => {
    await refusedWithoutChange(() => postEnroll(env.gateway.url, enrollBody(device('hdr-1')), { authorization: `Bearer ${'x'.repeat(5000)}` }), 401, 'enrollment-token-malformed');
  });
});

describe('attack: a preauthorized key enrolled by someone who does not hold it', () => {
  it('a body claiming the preauthorized public key but signed by another key is refused', async () => {
    const real = generateDeviceKey('ed25519');
    await preauthorizeDevice(env.fleet, { ...device('victim-1', real), labels: { ring: 'canary' } });
    const attacker = generateDeviceKey('ed25519');
    const forged = { ...enrollBody(device('victim-1', attacker)), publicKey: { algorithm: real.algorithm, pem: real.publicKeyPem } };
    await refusedWithoutChange(() => postEnroll(env.gateway.url, forged), 401, 'enroll-proof-invalid');
    // The attacker's own key against the preauthorization: refused too.
    await refusedWithoutChange(() => postEnroll(env.gateway.url, enrollBody(device('victim-1', attacker))), 403, 'preauthorization-key-mismatch');
  });
});

describe('attack: factory identities', () => {
  let trusted: Awaited<ReturnType<typeof makeFactoryCa>>;
  beforeAll(async () => {
    trusted = await makeFactoryCa('Trusted Maker');
    await env.fleet.addFactoryCa({ fingerprint: certificateFingerprint(trusted.root.certPem), name: 'Trusted Maker', certificatePem: trusted.root.certPem, autoAccept: null, channel: 'stable', labels: {} });
  });

  it('a certificate from an unknown CA is refused', async () => {
    const rogue = await makeFactoryCa('Rogue Maker');
    const d = device('rogue-1', generateDeviceKey('ecdsa-p256-sha256'));
    await refusedWithoutChange(async () => postEnroll(env.gateway.url, enrollBody(d, await factoryChain(rogue, d.id, d.key))), 403, 'factory-ca-unknown');
  });

  it("a trusted device's certificate presented with another key or for another id is refused", async () => {
    const owner = device('maker-1', generateDeviceKey('ecdsa-p256-sha256'));
    const chain = await factoryChain(trusted, owner.id, owner.key);
    await refusedWithoutChange(() => postEnroll(env.gateway.url, enrollBody(device('maker-1', generateDeviceKey('ecdsa-p256-sha256')), chain)), 403, 'factory-key-mismatch');
    await refusedWithoutChange(() => postEnroll(env.gateway.url, enrollBody({ ...owner, id: 'maker-2' }, chain)), 403, 'factory-id-mismatch');
  });

  it('a pending device is refused nonces (device-pending) and gets none', async () => {
    const d = device('pending-1', generateDeviceKey('ecdsa-p256-sha256'));
    expect((await postEnroll(env.gateway.url, enrollBody(d, await factoryChain(trusted, d.id, d.key)))).status).toBe(202);
    await refusedWithoutChange(async () => {
      const res = await fetch(`${env.gateway.url}/v1/nonce?device=${d.id}`);
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    }, 403, 'device-pending');
  });
});
