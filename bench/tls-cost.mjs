#!/usr/bin/env node
// What mutual TLS costs the gateway: N simulated devices (sim/protocol-device.ts) checking in to the
// real gateway (PGlite fleet store, empty release store, so every answer is a signed "none") over
// plain HTTP, then over mTLS with connection reuse and session resumption, with resumption only (a
// new connection per request, abbreviated handshake) and with neither (a full TLS 1.3 handshake with
// client certificate per request); plus raw handshakes per second with and without resumption, and
// certificate issuance per second at enrollment. One check-in is two requests (nonce, check-in).
//
//   node bench/tls-cost.mjs [--devices 2000] [--concurrency 16] [--handshakes 2000] [--json]
//
// Uses the compiled dist/ (npm run build).
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const DEVICES = Number(option('--devices', '2000'));
const CONCURRENCY = Number(option('--concurrency', '16'));
const HANDSHAKES = Number(option('--handshakes', '2000'));
const say = (line) => process.stderr.write(`${line}\n`);

const [{ FleetStore }, { startGateway }, { ProtocolFleet }, { LocalArtifactStore }, { createFleetCa }, { issueServerCertificate, issueDeviceCertificate }, { generateDeviceKey }] = await Promise.all([
  dist('fleet/fleet-store.js'),
  dist('gateway/server.js'),
  dist('sim/protocol-fleet.js'),
  dist('stores/local-store.js'),
  dist('identity/fleet-ca.js'),
  dist('identity/issue.js'),
  dist('schemas/device-envelope.js'),
]);

const TOKEN = 'bench-tls-enrollment-token-0123456789';
const work = mkdtempSync(join(tmpdir(), 'ota-tls-bench-'));
const factory = { version: '1.0.0', imageSha256: 'c'.repeat(64), securityVersion: 0 };
const never = async () => {
  throw new Error('no release is published in this bench');
};

async function gateway(name, tls) {
  const fleet = await FleetStore.open(`pglite:${join(work, name, 'fleet')}`);
  const store = new LocalArtifactStore(join(work, name, 'artifacts'));
  const running = await startGateway({ host: '127.0.0.1', port: 0, version: 'bench', fleet, store, enrollmentToken: TOKEN, releasePolicy: 'newest', rateLimits: false, ...tls, logError: () => {} });
  return { url: running.url, port: Number(new URL(running.url).port), close: async () => (await running.close(), await fleet.close(), await store.close()) };
}

async function timed(fn) {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

/** Enrolls a fleet (with certificates under mTLS) and runs one check-in round; returns rates. */
async function scenario(label, url, idPrefix, extra = {}) {
  let fleet;
  const enrollSeconds = await timed(async () => {
    fleet = await ProtocolFleet.enroll({ count: DEVICES, hardwareId: 'bench-tls', channel: 'stable', gatewayUrl: url, enrollmentToken: TOKEN, trustRoot: {}, factory, idPrefix, concurrency: CONCURRENCY, ...extra });
  });
  const checkinSeconds = await timed(async () => {
    const outcomes = await fleet.tick(() => ({ result: 'commit' }));
    if (outcomes.some((o) => o.action !== 'none')) throw new Error(`${label}: a check-in did not answer none`);
  });
  const row = { scenario: label, enrollPerSecond: DEVICES / enrollSeconds, checkinsPerSecond: DEVICES / checkinSeconds, requestsPerSecond: (2 * DEVICES) / checkinSeconds };
  say(`${label}: enroll ${row.enrollPerSecond.toFixed(0)}/s, check-ins ${row.checkinsPerSecond.toFixed(0)}/s`);
  return row;
}

/** Raw TLS 1.3 handshakes with a client certificate, `resume`: offer the previous session. */
async function handshakes(port, ca, client, resume) {
  let session;
  let done = 0;
  const one = () =>
    new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, ca, cert: client.cert, key: client.key, minVersion: 'TLSv1.3', session: resume ? session : undefined, servername: undefined }, () => {
        socket.end();
      });
      socket.once('session', (s) => (session = s));
      socket.once('close', () => resolve(socket.isSessionReused()));
      socket.once('error', reject);
    });
  await one(); // a first session to resume from
  let reused = 0;
  const seconds = await timed(async () => {
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (done < HANDSHAKES) {
        done++;
        if (await one()) reused++;
      }
    }));
  });
  return { handshakesPerSecond: HANDSHAKES / seconds, reusedShare: reused / HANDSHAKES };
}

const results = { devices: DEVICES, concurrency: CONCURRENCY, machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version }, scenarios: [], handshakes: {} };
try {
  const plain = await gateway('plain');
  results.scenarios.push(await scenario('plain HTTP', plain.url, 'plain'));
  await plain.close();

  const ca = await createFleetCa();
  const server = await issueServerCertificate(ca, { ipAddresses: ['127.0.0.1'] });
  const mtls = await gateway('mtls', { tls: { key: server.keyPem, cert: server.chainPem }, deviceIdentity: { ca } });
  const fleetCaPem = ca.root.certPem;
  results.scenarios.push(await scenario('mTLS, keep-alive + resumption', mtls.url, 'keep', { fleetCaPem }));
  results.scenarios.push(await scenario('mTLS, new connection per request, resumption', mtls.url, 'resume', { fleetCaPem, tls: { keepAlive: false } }));
  results.scenarios.push(await scenario('mTLS, new connection per request, full handshake', mtls.url, 'full', { fleetCaPem, tls: { keepAlive: false, sessionResumption: false } }));

  const key = generateDeviceKey('ecdsa-p256-sha256');
  const cert = await issueDeviceCertificate(ca, { deviceId: 'bench-handshake', publicKeyPem: key.publicKeyPem });
  const client = { cert: cert.chainPem, key: key.privateKey.export({ type: 'pkcs8', format: 'pem' }) };
  results.handshakes.full = await handshakes(mtls.port, fleetCaPem, client, false);
  results.handshakes.resumed = await handshakes(mtls.port, fleetCaPem, client, true);
  say(`handshakes: full ${results.handshakes.full.handshakesPerSecond.toFixed(0)}/s, resumed ${results.handshakes.resumed.handshakesPerSecond.toFixed(0)}/s (${(results.handshakes.resumed.reusedShare * 100).toFixed(0)}% reused)`);
  await mtls.close();
} finally {
  rmSync(work, { recursive: true, force: true });
}

const lines = [
  `| transport (${DEVICES} devices, concurrency ${CONCURRENCY}) | enrollments/s (with certificate under mTLS) | check-ins/s | requests/s |`,
  '|---|---|---|---|',
  ...results.scenarios.map((r) => `| ${r.scenario} | ${r.enrollPerSecond.toFixed(0)} | ${r.checkinsPerSecond.toFixed(0)} | ${r.requestsPerSecond.toFixed(0)} |`),
  '',
  `| TLS 1.3 handshakes with a client certificate (${HANDSHAKES}, concurrency ${CONCURRENCY}) | per second | sessions reused |`,
  '|---|---|---|',
  `| full | ${results.handshakes.full.handshakesPerSecond.toFixed(0)} | ${(results.handshakes.full.reusedShare * 100).toFixed(0)}% |`,
  `| resumed (session ticket) | ${results.handshakes.resumed.handshakesPerSecond.toFixed(0)} | ${(results.handshakes.resumed.reusedShare * 100).toFixed(0)}% |`,
];
process.stdout.write(args.includes('--json') ? `${JSON.stringify(results, null, 2)}\n` : `${lines.join('\n')}\n`);
