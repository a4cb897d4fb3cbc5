// Keep-alive that holds: the gateway keeps an idle device connection for keepAliveTimeoutSeconds
// (default 120 s), so a device's next request within it reuses the TLS connection (no handshake);
// past it the gateway closes the connection. The timeouts around it are a pure function.
import { Agent, request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFleetCa, type FleetCa } from '../../identity/fleet-ca.js';
import { issueServerCertificate } from '../../identity/issue.js';
import { DEFAULT_KEEP_ALIVE_SECONDS, serverTimeouts, startGateway, type RunningGateway } from '../../gateway/server.js';
import { gatewayConfigSchema } from '../../schemas/config.js';

describe('serverTimeouts', () => {
  it('keeps headersTimeout above keepAliveTimeout and requestTimeout above both', () => {
    for (const seconds of [1, 5, 30, 120, 3600]) {
      const t = serverTimeouts(seconds);
      expect(t.keepAliveTimeout).toBe(seconds * 1000);
      expect(t.headersTimeout).toBeGreaterThan(t.keepAliveTimeout);
      expect(t.headersTimeout).toBeGreaterThanOrEqual(30_000);
      expect(t.requestTimeout).toBeGreaterThan(t.headersTimeout);
    }
    expect(serverTimeouts(DEFAULT_KEEP_ALIVE_SECONDS)).toEqual({ keepAliveTimeout: 120_000, headersTimeout: 125_000, requestTimeout: 130_000 });
  });

  it('refuses a keep-alive outside 1..3600 whole seconds, in the function and in the config schema', () => {
    for (const bad of [0, -1, 1.5, 3601, Number.NaN]) expect(() => serverTimeouts(bad)).toThrow(/keepAliveTimeoutSeconds/);
    expect(gatewayConfigSchema.safeParse({ answerKeyPath: '/k.pem', keepAliveTimeoutSeconds: 0 }).success).toBe(false);
    expect(gatewayConfigSchema.parse({ answerKeyPath: '/k.pem', keepAliveTimeoutSeconds: 300 }).keepAliveTimeoutSeconds).toBe(300);
    expect(gatewayConfigSchema.parse({ answerKeyPath: '/k.pem' }).keepAliveTimeoutSeconds).toBeUndefined();
  });
});

describe('an idle device connection over TLS', () => {
  let ca: FleetCa;
  let held: RunningGateway;
  let short: RunningGateway;
  beforeAll(async () => {
    ca = await createFleetCa();
    const cert = await issueServerCertificate(ca, { ipAddresses: ['127.0.0.1'] });
    const tls = { key: cert.keyPem, cert: cert.chainPem };
    held = await startGateway({ host: '127.0.0.1', port: 0, version: 'ka', tls });
    short = await startGateway({ host: '127.0.0.1', port: 0, version: 'ka', tls, keepAliveTimeoutSeconds: 1 });
  });
  afterAll(async () => {
    await held?.close();
    await short?.close();
  });

  /** GET /healthz on `agent`; which socket carried it and whether it was reused. */
  const healthz = (gateway: RunningGateway, agent: Agent) =>
    new Promise<{ status: number; socket: TLSSocket; reused: boolean }>((resolve, reject) => {
      const req = request(`${gateway.url}/healthz`, { agent }, (res) => {
        res.resume().on('end', () => resolve({ status: res.statusCode ?? 0, socket: req.socket as TLSSocket, reused: req.reusedSocket }));
      });
      req.on('error', reject).end();
    });

  it('is still open after the old 5 s limit with the default keep-alive, and the next request reuses it', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: ca.root.certPem });
    try {
      const first = await healthz(held, agent);
      expect(first).toMatchObject({ status: 200, reused: false });
      await new Promise((r) => setTimeout(r, 6_500));
      const second = await healthz(held, agent);
      expect(second).toMatchObject({ status: 200, reused: true });
      expect(second.socket).toBe(first.socket);
    } finally {
      agent.destroy();
    }
  }, 30_000);

  it('is closed by the gateway once idle longer than a configured 1 s', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: ca.root.certPem });
    try {
      const first = await healthz(short, agent);
      expect(first.status).toBe(200);
      await new Promise<void>((resolve) => (first.socket.destroyed ? resolve() : first.socket.once('close', () => resolve())));
      const second = await healthz(short, agent);
      expect(second).toMatchObject({ status: 200, reused: false });
      expect(second.socket).not.toBe(first.socket);
    } finally {
      agent.destroy();
    }
  }, 30_000);
});
