// Node's own TLS stack accepts what the fleet CA issues, with only the root pinned: a real HTTPS
// server on loopback with the gateway certificate, and mutual TLS with a device certificate.
import { generateKeyPairSync } from 'node:crypto';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFleetCa, type FleetCa } from '../../identity/fleet-ca.js';
import { issueDeviceCertificate, issueServerCertificate } from '../../identity/issue.js';

let ca: FleetCa;
let server: Server;
let port: number;

beforeAll(async () => {
  ca = await createFleetCa();
  const cert = await issueServerCertificate(ca, { dnsNames: ['gateway.fleet.test'], ipAddresses: ['127.0.0.1'] });
  // requestCert without rejectUnauthorized: the handler reports what the client presented.
  server = createServer({ key: cert.keyPem, cert: cert.chainPem, ca: ca.root.certPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const socket = req.socket as TLSSocket;
    const peer = socket.getPeerCertificate();
    res.end(JSON.stringify({ authorized: socket.authorized, peer: peer?.subjectaltname ?? null }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function get(options: { servername?: string; cert?: string; key?: string }): Promise<{ authorized: boolean; peer: string | null }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', ca: ca.root.certPem, agent: false, ...options }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve(JSON.parse(body)));
    });
    req.on('error', reject);
    req.end();
  });
}

it('accepts the gateway certificate by DNS name and by IP with only the root as ca', async () => {
  await expect(get({ servername: 'gateway.fleet.test' })).resolves.toEqual({ authorized: false, peer: null });
  await expect(get({})).resolves.toMatchObject({ authorized: false });
});

it('refuses the certificate for a name it does not carry', async () => {
  await expect(get({ servername: 'other.fleet.test' })).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
});

it('refuses a server certificate from another CA', async () => {
  const other = await createFleetCa({ name: 'Other' });
  await expect(
    new Promise((resolve, reject) => request({ host: '127.0.0.1', port, ca: other.root.certPem, agent: false, servername: 'gateway.fleet.test' }, resolve).on('error', reject).end()),
  ).rejects.toMatchObject({ code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' });
});

it('a device certificate authenticates the client (mutual TLS), its URI SAN naming the device', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const device = await issueDeviceCertificate(ca, { deviceId: 'dev-7', publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString() });
  const seen = await get({ servername: 'gateway.fleet.test', cert: device.chainPem, key: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() });
  expect(seen).toEqual({ authorized: true, peer: 'URI:urn:edge-ota:device:dev-7' });
});
