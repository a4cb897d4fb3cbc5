// The per-device limit on POST /v1/certificates (issuance and renewals) and its nonce: past the
// burst a device gets 429 with Retry-After and nothing is issued or recorded; another device, and
// the same device after Retry-After, are served. Counted only after the signature verifies, so a
// forged request for a device cannot spend that device's budget.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayClient } from '../../device-client/gateway/gateway-client.js';
import { createDeviceCsr } from '../../identity/csr.js';
import { tlsFetch } from '../../platform/tls-fetch.js';
import { generateDeviceKey, signPayload } from '../../schemas/device-envelope.js';
import { DEFAULT_CERTIFICATE_RATE_LIMIT, DEFAULT_RATE_LIMITS } from '../../gateway/rate-limit.js';
import { enrollCertified, mtlsCaller, startMtlsGateway, type MtlsGateway } from '../support/mtls-gateway.js';

const TOKEN = 'certificate-rate-limit-token-0123456789';

describe('the certificate rate limit per device', () => {
  let env: MtlsGateway;
  beforeAll(async () => {
    // Burst 3, one token back per 2 s: the first request of each device is its enrollment's certificate.
    env = await startMtlsGateway('ota-cert-rate-', TOKEN, { rateLimits: { ...DEFAULT_RATE_LIMITS, perDeviceCertificate: { perSecond: 0.5, burst: 3 } } });
  }, 60_000);
  afterAll(() => env?.close());

  it('defaults allow an honest renewal rhythm (16 h, or ~10 min in quarantine) with room for retries', () => {
    expect(DEFAULT_CERTIFICATE_RATE_LIMIT.burst).toBeGreaterThanOrEqual(6);
    expect(1 / DEFAULT_CERTIFICATE_RATE_LIMIT.perSecond).toBeLessThanOrEqual(600);
  });

  it('answers 429 with Retry-After past the burst, issues nothing, and leaves other devices alone', async () => {
    const a = await enrollCertified(env, TOKEN, 'rl-cert-a');
    const b = await enrollCertified(env, TOKEN, 'rl-cert-b');
    const open = mtlsCaller(env.url, env.ca.root.certPem);
    const request = async (id: string, key: typeof a.key) => open('POST', '/v1/certificates', signPayload({ type: 'certificate-request', deviceId: id, csrPem: await createDeviceCsr(key.privateKey, id), sentAt: new Date().toISOString() }, key));
    // Two more within the burst of three (the first was enrollment's).
    expect((await request(a.id, a.key)).status).toBe(201);
    await new Promise((r) => setTimeout(r, 5)); // sentAt strictly later than the last answered request
    expect((await request(a.id, a.key)).status).toBe(201);
    const before = (await env.fleet.certificatesOf(a.id)).length;
    const limited = await open('POST', '/v1/certificates', signPayload({ type: 'certificate-request', deviceId: a.id, csrPem: await createDeviceCsr(a.key.privateKey, a.id), sentAt: new Date().toISOString() }, a.key));
    expect(limited).toMatchObject({ status: 429, json: { error: 'rate-limited' } });
    // The nonce for a certificate's evidence shares the budget.
    const nonce = await open('POST', '/v1/certificates/nonce', signPayload({ type: 'certificate-nonce', deviceId: a.id, sentAt: new Date().toISOString() }, a.key));
    expect(nonce.status).toBe(429);
    expect(await env.fleet.certificatesOf(a.id)).toHaveLength(before);
    // Another device is served; a forged request for b (wrong key) does not spend b's budget.
    const forger = generateDeviceKey('ed25519');
    for (let i = 0; i < 5; i++) expect((await request(b.id, forger)).status).toBe(401);
    expect((await request(b.id, b.key)).status).toBe(201);
  });

  it('sends Retry-After, and serves the device again once it has passed', async () => {
    const c = await enrollCertified(env, TOKEN, 'rl-cert-c');
    const client = new GatewayClient(env.url, { fetch: tlsFetch(() => ({ ca: env.ca.root.certPem }), { keepAlive: false }) });
    const fetchOver = tlsFetch(() => ({ ca: env.ca.root.certPem }), { keepAlive: false });
    const post = async () => {
      const body = signPayload({ type: 'certificate-request', deviceId: c.id, csrPem: await createDeviceCsr(c.key.privateKey, c.id), sentAt: new Date().toISOString() }, c.key);
      await new Promise((r) => setTimeout(r, 5));
      return fetchOver(`${env.url}/v1/certificates`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    };
    let res = await post();
    while (res.status === 201) res = await post();
    expect(res.status).toBe(429);
    const wait = Number(res.headers.get('retry-after'));
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(2);
    await new Promise((r) => setTimeout(r, wait * 1000 + 100));
    expect(await client.requestCertificate(c.key, c.id, await createDeviceCsr(c.key.privateKey, c.id))).toMatchObject({ deviceId: c.id });
  });
});
