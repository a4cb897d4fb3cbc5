// `tls` on startGateway: the same routes over HTTPS with a fleet CA server certificate, trusted by a
// client that pins only the fleet root. Plain HTTP stays the default.
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:https';
import { connect } from 'node:tls';
import { get as httpGet } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFleetCa, type FleetCa } from '../../identity/fleet-ca.js';
import { issueServerCertificate } from '../../identity/issue.js';
import { MAX_NEXT_NONCE_TTL_SECONDS, startGateway, TICKET_KEY_BYTES, tlsSessionLifetime, type RunningGateway } from '../../gateway/server.js';

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

it('keeps TLS sessions resumable past the poll interval by default; a configured lifetime is checked', () => {
  expect(tlsSessionLifetime(300)).toBe(900);
  expect(tlsSessionLifetime(86_000)).toBe(MAX_NEXT_NONCE_TTL_SECONDS);
  expect(tlsSessionLifetime(300, 60)).toBe(60);
  for (const wrong of [0, 1.5, MAX_NEXT_NONCE_TTL_SECONDS + 1]) expect(() => tlsSessionLifetime(300, wrong)).toThrow(/tlsSessionSeconds must be a whole number of seconds from 1 to 86400/);
});

/** Was the handshake of a /healthz request with `agent` a resumed one (client side)? */
const resumedWith = (url: string, agent: Agent) =>
  new Promise<boolean>((resolve, reject) =>
    request(`${url}/healthz`, { ca: ca.root.certPem, agent }, (res) => {
      const reused = (res.socket as import('node:tls').TLSSocket).isSessionReused();
      res.resume().on('end', () => resolve(reused));
    })
      .on('error', reject)
      .end(),
  );

it('resumes a session younger than tlsSessionSeconds and makes a full handshake after it', async () => {
  const cert = await issueServerCertificate(ca, { ipAddresses: ['127.0.0.1'] });
  const short = await startGateway({ host: '127.0.0.1', port: 0, version: '9.9.9', tls: { key: cert.keyPem, cert: cert.chainPem }, tlsSessionSeconds: 1 });
  try {
    const agents = [new Agent({ keepAlive: false, maxCachedSessions: 10 }), new Agent({ keepAlive: false, maxCachedSessions: 10 })];
    expect(await resumedWith(short.url, agents[0]!)).toBe(false);
    expect(await resumedWith(gateway.url, agents[1]!)).toBe(false);
    expect(await resumedWith(short.url, agents[0]!)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 2_200));
    // Past the 1 s lifetime: a full handshake. The default gateway (900 s) still resumes.
    expect(await resumedWith(short.url, agents[0]!)).toBe(false);
    expect(await resumedWith(gateway.url, agents[1]!)).toBe(true);
  } finally {
    await short.close();
  }
});

it('resumes a session on another replica only when the replicas share the ticket key', async () => {
  const cert = await issueServerCertificate(ca, { ipAddresses: ['127.0.0.1'] });
  const ticketKeys = randomBytes(TICKET_KEY_BYTES);
  const start = (keys?: Buffer) => startGateway({ host: '127.0.0.1', port: 0, version: '9.9.9', tls: { key: cert.keyPem, cert: cert.chainPem, ...(keys && { ticketKeys: keys }) } });
  const [shared1, shared2, own1, own2] = await Promise.all([start(ticketKeys), start(ticketKeys), start(), start()]);
  try {
    // As one device behind a balancer: its session from one replica, offered to the other.
    const resumesOnTheOther = async (a: RunningGateway, b: RunningGateway) => resumes(b.url, await ticketFrom(a.url));
    expect(await resumesOnTheOther(shared1, shared2)).toBe(true);
    expect(await resumesOnTheOther(own1, own2)).toBe(false);
  } finally {
    await Promise.all([shared1, shared2, own1, own2].map((g) => g.close()));
  }
  await expect(Promise.resolve().then(() => start(randomBytes(32)))).rejects.toThrow('the TLS ticket key must be 48 bytes, got 32');
});

const tlsTo = (url: string, session?: Buffer) => connect({ host: '127.0.0.1', port: Number(new URL(url).port), ca: ca.root.certPem, minVersion: 'TLSv1.3', ...(session && { session }) });

/** A session ticket from a full handshake with `url` (TLS 1.3 sends it after the handshake, as data). */
const ticketFrom = (url: string) =>
  new Promise<Buffer>((resolve, reject) => {
    const socket = tlsTo(url).on('error', reject);
    socket.once('session', (ticket: Buffer) => {
      socket.destroy();
      resolve(ticket);
    });
    socket.resume();
  });

/** Did a handshake with `url` offering `session` resume it? */
const resumes = (url: string, session: Buffer) =>
  new Promise<boolean>((resolve, reject) => {
    const socket = tlsTo(url, session).on('error', reject);
    socket.once('secureConnect', () => {
      resolve(socket.isSessionReused());
      socket.destroy();
    });
  });
