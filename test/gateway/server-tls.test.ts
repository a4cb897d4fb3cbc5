// `tls` on startGateway: the same routes over HTTPS with a fleet CA server certificate, trusted by a
// client that pins only the fleet root. Plain HTTP stays the default.
import { request } from 'node:https';
import { get as httpGet } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFleetCa, type FleetCa } from '../../identity/fleet-ca.js';
import { issueServerCertificate } from '../../identity/issue.js';
import { startGateway, type RunningGateway } from '../../gateway/server.js';

let ca: FleetCa;
let gateway: RunningGateway;

beforeAll(async () => {
  ca = await createFleetCa();
  const cert = await issueServerCertificate(ca, { ipAddresses: ['127.0.0.1'] });
  gateway = await startGateway({ host: '127.0.0.1', port: 0, version: '9.9.9', tls: { key: cert.keyPem, cert: cert.chainPem } });
});
afterAll(() => gateway?.close());

it('serves /healthz over HTTPS to a client pinning the fleet root', async () => {
  expect(gateway.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  const body = await new Promise<string>((resolve, reject) =>
    request(`${gateway.url}/healthz`, { ca: ca.root.certPem, agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c)).on('end', () => resolve(`${res.statusCode} ${text}`));
    })
      .on('error', reject)
      .end(),
  );
  expect(JSON.parse(body.slice(4))).toEqual({ status: 'ok', version: '9.9.9' });
  expect(body.slice(0, 3)).toBe('200');
});

it('does not answer plain HTTP on the TLS port', async () => {
  const plain = gateway.url.replace('https:', 'http:');
  const outcome = await new Promise<string>((resolve) => {
    const req = httpGet(`${plain}/healthz`, (res) => resolve(`status ${res.statusCode}`));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code}`));
  });
  expect(outcome).toMatch(/^(error ECONNRESET|error HPE_INVALID_CONSTANT|status 400)$/);
});
