// A real gateway for the device-gateway tests: gateway/server.ts on 127.0.0.1 with a PGlite fleet
// store in its own folder and the local artifact store the release pipeline published into. It
// can be stopped and started again on the same port (an outage), and a proxy in front of it can
// cut downloads midway (a flaky link).
import type { LocalTrustRootJSON } from '../../signing/trust-root.js';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { FleetStore } from '../../fleet/fleet-store.js';
import { startGateway, type RunningGateway } from '../../gateway/server.js';
import type { Labels } from '../../schemas/device-api.js';
import type { DeviceKey } from '../../schemas/device-envelope.js';
import type { AttestationPolicy } from '../../attestation/standing.js';
import type { DriftPolicy } from '../../gateway/drift-gate.js';
import { LocalArtifactStore } from '../../stores/local-store.js';

export interface TestGateway {
  url: string;
  fleet: FleetStore;
  /** A single-use enrollment token for this device (ota fleet token), with the operator's selectors. */
  tokenFor(deviceId: string, selectors?: { channel?: string; labels?: Labels }): Promise<string>;
  stop(): Promise<void>;
  /** Starts again on the same port, with the same fleet store (a gateway restart). */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startTestGateway(dir: string, storeDir: string, options: { pollAfterSeconds?: number; answerKey?: DeviceKey; attestation?: AttestationPolicy; drift?: DriftPolicy; sigstoreTrustRoot?: LocalTrustRootJSON } = {}): Promise<TestGateway> {
  const fleet = await FleetStore.open(`pglite:${join(dir, 'fleet')}`);
  const store = new LocalArtifactStore(storeDir);
  let port = 0;
  let running: RunningGateway | undefined;
  const start = async () => {
    running = await startGateway({ host: '127.0.0.1', port, version: 'test', fleet, store, pollAfterSeconds: options.pollAfterSeconds ?? 60, answerKey: options.answerKey, attestation: options.attestation, drift: options.drift, sigstoreTrustRoot: options.sigstoreTrustRoot, logError: () => {} });
    port = Number(new URL(running.url).port);
  };
  await start();
  const stop = async () => {
    const r = running;
    running = undefined;
    if (!r) return;
    r.server.closeAllConnections();
    await r.close();
  };
  return {
    url: `http://127.0.0.1:${port}`,
    fleet,
    tokenFor: async (deviceId, selectors = {}) => (await fleet.createEnrollmentToken({ deviceId, ttlSeconds: 3600, channel: selectors.channel ?? 'stable', labels: selectors.labels ?? {} })).token,
    stop,
    start,
    async close() {
      await stop();
      await fleet.close();
      await store.close();
    },
  };
}

export interface ProxiedRequest {
  method: string;
  path: string;
  range?: string;
  status?: number;
  cut: boolean;
}

export interface CuttingProxy {
  url: string;
  requests: ProxiedRequest[];
  /** The next `count` artifact responses are cut after `afterBytes` body bytes. */
  cutNext(count: number, afterBytes: number): void;
  close(): Promise<void>;
}

/** An HTTP proxy to `target` that can drop the connection in the middle of artifact downloads. */
export async function startCuttingProxy(target: string): Promise<CuttingProxy> {
  const upstream = new URL(target);
  const requests: ProxiedRequest[] = [];
  let cuts = 0;
  let cutAfter = 0;
  const server: Server = createServer((req, res) => {
    const entry: ProxiedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', range: req.headers.range, cut: false };
    requests.push(entry);
    const cutThis = cuts > 0 && entry.path.startsWith('/v1/artifacts/');
    if (cutThis) cuts--;
    const out = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      entry.status = up.statusCode;
      res.writeHead(up.statusCode ?? 502, up.headers);
      if (!cutThis) return void up.pipe(res);
      let sent = 0;
      up.on('data', (chunk: Buffer) => {
        if (entry.cut) return;
        const room = cutAfter - sent;
        if (chunk.length >= room) {
          res.write(chunk.subarray(0, room), () => {
            // The link drops a moment later (the client has read what arrived): it sees a short body.
            setTimeout(() => {
              up.destroy();
              res.socket?.destroy();
            }, 200);
          });
          entry.cut = true;
          return;
        }
        sent += chunk.length;
        res.write(chunk);
      });
      up.on('end', () => {
        if (!entry.cut) res.end();
      });
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    cutNext(count, afterBytes) {
      cuts = count;
      cutAfter = afterBytes;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
