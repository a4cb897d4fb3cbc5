// Attack class: reaching the device API without the device's identity (issue 14, items 3 and 5). The
// gateway serves TLS 1.3 and asks every request (but enrollment, certificate issuance and /healthz)
// for a client certificate from the fleet CA: none, one from another CA, a revoked one, one of a
// revoked device, an expired one, and device A's certificate carrying device B's signed envelope are
// each refused with their own code, and nothing changes (no nonce issued or spent, nothing stored).
// The renewal path needs only the enrolled key's signature: an expired device is re-issued there.
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeviceCsr } from '../../identity/csr.js';
import { createFleetCa } from '../../identity/fleet-ca.js';
import { issueDeviceCertificate } from '../../identity/issue.js';
import { signPayload, generateDeviceKey } from '../../schemas/device-envelope.js';
import type { CheckinRequest } from '../../schemas/device-api.js';
import { certificateFor, enrollCertified, mtlsCaller, startMtlsGateway, type CertifiedTestDevice, type MtlsGateway } from '../support/mtls-gateway.js';

const TOKEN = 'mtls-attack-token-0123456789';
const HW = 'mtls-hw';

const checkinOf = (id: string, nonce: string): CheckinRequest => ({
  type: 'checkin', deviceId: id, hardwareId: HW, currentVersion: '1.0.0', imageSha256: 'a'.repeat(64), bootedSlot: 'A',
  securityVersion: 1, supportedDeltaFormats: [], nonce, sentAt: new Date().toISOString(),
});

async function countRows(env: MtlsGateway, table: 'nonces' | 'device_certificates'): Promise<number> {
  const { rows } = await env.fleet.db.query<{ n: number | string }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(rows[0]!.n);
}

/** The device's own nonce and a check-in signed over it. */
async function signedCheckin(device: CertifiedTestDevice) {
  const nonce = await device.call('GET', `/v1/nonce?device=${device.id}`);
  expect(nonce.status, JSON.stringify(nonce.json)).toBe(200);
  return signPayload(checkinOf(device.id, nonce.json!.nonce as string), device.key);
}

describe('a gateway requiring client certificates', () => {
  let env: MtlsGateway;
  let a: CertifiedTestDevice;
  let b: CertifiedTestDevice;
  beforeAll(async () => {
    env = await startMtlsGateway('ota-attack-mtls-', TOKEN);
    a = await enrollCertified(env, TOKEN, 'mtls-a', HW);
    b = await enrollCertified(env, TOKEN, 'mtls-b', HW);
  }, 60_000);
  afterAll(() => env?.close());

  it('answers /healthz, enrollment and issuance without one, and check-in with one', async () => {
    const anonymous = mtlsCaller(env.url, env.ca.root.certPem);
    expect((await anonymous('GET', '/healthz')).status).toBe(200);
    expect(a.certificate.chainPem).toContain('BEGIN CERTIFICATE');
    expect(new Date(a.certificate.notAfter).getTime() - Date.now()).toBeGreaterThan(23 * 3600_000);
    const answer = await a.call('POST', '/v1/checkin', await signedCheckin(a));
    expect(answer.status, JSON.stringify(answer.json)).toBe(200);
    expect(await env.fleet.certificatesOf('mtls-a')).toHaveLength(1);
  });

  it('refuses every other route without a client certificate, and issues no nonce', async () => {
    const anonymous = mtlsCaller(env.url, env.ca.root.certPem);
    const before = await countRows(env, 'nonces');
    for (const [method, path] of [['GET', '/v1/nonce?device=mtls-a'], ['POST', '/v1/checkin'], ['POST', '/v1/reports'], ['POST', '/v1/heartbeats'], ['GET', '/v1/releases/mtls-hw/channels/stable/index.json'], ['GET', '/v1/artifacts/blobs/sha256/00'], ['GET', '/v1/tuf/timestamp.json']] as const) {
      const res = await anonymous(method, path, method === 'POST' ? {} : undefined);
      expect([res.status, res.json?.error], path).toEqual([401, 'client-certificate-required']);
    }
    expect(await countRows(env, 'nonces')).toBe(before);
  });

  it('refuses a certificate from another CA for the same device id and key', async () => {
    const other = await createFleetCa({ name: 'Attacker' });
    const forged = await issueDeviceCertificate(other, { deviceId: 'mtls-a', csrPem: await createDeviceCsr(a.key.privateKey, 'mtls-a') });
    const res = await mtlsCaller(env.url, env.ca.root.certPem, { cert: forged.chainPem, key: a.keyPem })('GET', '/v1/nonce?device=mtls-a');
    expect([res.status, res.json?.error]).toEqual([401, 'client-certificate-untrusted']);
  });

  it("refuses device A's certificate carrying device B's envelope, and B's nonce stays unspent", async () => {
    const envelope = await signedCheckin(b);
    const foreign = await a.call('POST', '/v1/checkin', envelope);
    expect([foreign.status, foreign.json?.error]).toEqual([403, 'certificate-device-mismatch']);
    const nonceForB = await a.call('GET', '/v1/nonce?device=mtls-b');
    expect([nonceForB.status, nonceForB.json?.error]).toEqual([403, 'certificate-device-mismatch']);
    // Nothing was spent: B's own certificate still checks in with that nonce.
    expect((await b.call('POST', '/v1/checkin', envelope)).status).toBe(200);
  });

  it('refuses a revoked serial on the next request, without a restart, and re-issues to the device', async () => {
    const device = await enrollCertified(env, TOKEN, 'mtls-revoked-cert', HW);
    expect((await device.call('GET', `/v1/nonce?device=${device.id}`)).status).toBe(200);
    expect(await env.fleet.revokeCertificate(device.certificate.serialNumber, 'key copied')).toBe(true);
    const res = await device.call('GET', `/v1/nonce?device=${device.id}`);
    expect([res.status, res.json?.error]).toEqual([403, 'certificate-revoked']);
    // The device itself is not revoked: a new certificate for its enrolled key works.
    const renewed = await certificateFor(env, device.id, device.key);
    const again = await mtlsCaller(env.url, env.ca.root.certPem, { cert: renewed.chainPem, key: device.keyPem })('GET', `/v1/nonce?device=${device.id}`);
    expect(again.status).toBe(200);
  });

  it('refuses a revoked device on the next request, and refuses it a new certificate', async () => {
    const device = await enrollCertified(env, TOKEN, 'mtls-revoked-device', HW);
    expect(await env.fleet.revokeDevice(device.id, 'stolen')).toBe(true);
    const res = await device.call('GET', `/v1/nonce?device=${device.id}`);
    expect([res.status, res.json?.error]).toEqual([403, 'device-revoked']);
    const issued = await countRows(env, 'device_certificates');
    await expect(certificateFor(env, device.id, device.key)).rejects.toMatchObject({ status: 403, code: 'device-revoked' });
    expect(await countRows(env, 'device_certificates')).toBe(issued);
  });

  it('issues only for the enrolled key, only fresh requests, never twice for one request', async () => {
    const issued = await countRows(env, 'device_certificates');
    const anonymous = mtlsCaller(env.url, env.ca.root.certPem);
    const otherKey = generateDeviceKey('ed25519');
    const request = async (csrKey = a.key, sentAt = new Date().toISOString()) =>
      signPayload({ type: 'certificate-request', deviceId: a.id, csrPem: await createDeviceCsr(csrKey.privateKey, a.id), sentAt }, a.key);
    const wrongKey = await anonymous('POST', '/v1/certificates', await request(otherKey));
    expect([wrongKey.status, wrongKey.json?.error]).toEqual([400, 'csr-key-mismatch']);
    const stale = await anonymous('POST', '/v1/certificates', await request(a.key, new Date(Date.now() - 3600_000).toISOString()));
    expect([stale.status, stale.json?.error]).toEqual([409, 'stale-request']);
    const bySomeoneElse = signPayload({ type: 'certificate-request', deviceId: a.id, csrPem: await createDeviceCsr(otherKey.privateKey, a.id), sentAt: new Date().toISOString() }, otherKey);
    const forged = await anonymous('POST', '/v1/certificates', bySomeoneElse);
    expect([forged.status, forged.json?.error]).toEqual([401, 'bad-signature']);
    expect(await countRows(env, 'device_certificates')).toBe(issued);
    const once = await request();
    expect((await anonymous('POST', '/v1/certificates', once)).status).toBe(201);
    const replay = await anonymous('POST', '/v1/certificates', once);
    expect([replay.status, replay.json?.error]).toEqual([409, 'replayed-request']);
    expect(await countRows(env, 'device_certificates')).toBe(issued + 1);
  });
});

describe('an expired device certificate', () => {
  let env: MtlsGateway;
  // Two-second certificates: expired well before the test looks.
  beforeAll(async () => {
    env = await startMtlsGateway('ota-attack-mtls-expiry-', TOKEN, { certificateHours: 2 / 3600 });
  }, 60_000);
  afterAll(() => env?.close());

  it('is refused, and the enrolled key renews it at the renewal endpoint', async () => {
    const device = await enrollCertified(env, TOKEN, 'mtls-expired', HW);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const before = await countRows(env, 'nonces');
    const res = await device.call('GET', `/v1/nonce?device=${device.id}`);
    expect([res.status, res.json?.error]).toEqual([401, 'client-certificate-expired']);
    expect(await countRows(env, 'nonces')).toBe(before);
    // Renewal presents the expired certificate in the handshake; the route needs only the signature.
    const renewed = await certificateFor(env, device.id, device.key);
    const again = await mtlsCaller(env.url, env.ca.root.certPem, { cert: renewed.chainPem, key: device.keyPem })('GET', `/v1/nonce?device=${device.id}`);
    expect(again.status, JSON.stringify(again.json)).toBe(200);
  }, 30_000);
});

describe('a device certificate that expires while its TLS session lives on', () => {
  let env: MtlsGateway;
  // Four-second certificates; the gateway's TLS sessions last the poll interval + 600 s, far longer.
  beforeAll(async () => {
    env = await startMtlsGateway('ota-attack-mtls-resumed-', TOKEN, { certificateHours: 4 / 3600 });
  }, 60_000);
  afterAll(() => env?.close());

  it('is refused on the resumed session (the first handshake\'s verdict does not carry over), and nothing is issued', async () => {
    const resumed: boolean[] = [];
    env.gateway.server.on('secureConnection', (socket: TLSSocket) => resumed.push(socket.isSessionReused()));
    const device = await enrollCertified(env, TOKEN, 'mtls-resumed', HW);
    const valid = await device.call('GET', `/v1/nonce?device=${device.id}`);
    expect(valid.status, JSON.stringify(valid.json)).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 4_500));
    const before = await countRows(env, 'nonces');
    const res = await device.call('GET', `/v1/nonce?device=${device.id}`);
    // The handshake resumed the session made while the certificate was valid: OpenSSL checked nothing again.
    expect(resumed.at(-1)).toBe(true);
    expect([res.status, res.json?.error]).toEqual([401, 'client-certificate-expired']);
    expect(await countRows(env, 'nonces')).toBe(before);
  }, 30_000);
});
