#!/usr/bin/env node
// One load-generator process of bench/gateway-load.mjs: never in the gateway's process. Each
// virtual user cycles through its share of pre-enrolled devices, each device with its own client
// certificate and https.Agent (a TLS connection carries one device's identity). Scenarios:
//   checkin   one signed check-in per device, over the nextNonce of its previous answer (the
//             first after a nonce request), connections kept alive
//   twostep   nonce + signed check-in, as devices from before nextNonce do, kept alive
//   resumed   as checkin, but the check-in says `connection: close`: every check-in opens a new TLS
//             connection, resuming the device's previous session (the agent's session cache)
//   full      the same without session resumption: a full TLS 1.3 handshake with client certificate per check-in
//   plain     as checkin over plain HTTP, keep-alive (what TLS costs, by difference)
//   report    nonce + signed health report (rising counter)
//   range     GET of a delta blob by 64 KiB Range requests, kept alive
// Protocol with the parent (IPC): it sends the job; we warm up, say `warm`, wait for `go`, run for
// durationMs and send the counts and latencies.
// @ts-check
import { createPrivateKey } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { createSecureContext } from 'node:tls';
import { pathToFileURL, fileURLToPath } from 'node:url';

const dist = (p) => import(pathToFileURL(fileURLToPath(new URL(`../dist/${p}`, import.meta.url))).href);
const { signPayload, fromPrivateKey } = await dist('schemas/device-envelope.js');

/** @type {any} */
const job = await new Promise((resolve) => process.once('message', resolve));
const url = new URL(job.url);
const request = job.plain ? httpRequest : httpsRequest;
const devices = job.devices.map((d) => ({
  ...d,
  key: fromPrivateKey(createPrivateKey(d.keyPem)),
  agent: job.plain
    ? new HttpAgent({ keepAlive: true, maxSockets: 1 })
    : new Agent({
        keepAlive: true, maxSockets: 1, maxCachedSessions: job.scenario === 'full' ? 0 : 1, ca: job.caPem, cert: d.certPem, key: d.keyPem, minVersion: 'TLSv1.3',
        // One TLS context per device, as its agent keeps (platform/tls-fetch.ts): not re-parsed per connection.
        secureContext: createSecureContext({ ca: job.caPem, cert: d.certPem, key: d.keyPem, minVersion: 'TLSv1.3' }),
      }),
  counter: job.counterStart ?? 0,
}));

let handshakes = 0;
let resumed = 0;
/** Check-ins signed over a held nextNonce (one request) rather than a fetched nonce (two). */
let heldUsed = 0;

let retries = 0;

/**
 * One request on the device's agent; resolves with status and body text. A kept-alive socket the
 * server closed as it was reused (ECONNRESET on `reusedSocket`) is retried once on a new one, as
 * Node's documentation advises: the keep-alive race, not a refusal (the nonce keeps a retry single-use).
 */
async function call(device, method, path, options = {}) {
  try {
    return await callOnce(device, method, path, options);
  } catch (error) {
    if (error?.code !== 'ECONNRESET' || !error.reusedSocket) throw error;
    retries++;
    return callOnce(device, method, path, options);
  }
}

function callOnce(device, method, path, { body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, agent: device.agent, headers: { ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}), ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), bytes: chunks.reduce((n, c) => n + c.length, 0) }));
      res.on('error', reject);
    });
    req.on('socket', (socket) => {
      if (socket.encrypted && !socket._secureEstablished) {
        socket.once('secureConnect', () => {
          handshakes++;
          if (socket.isSessionReused()) resumed++;
        });
      }
    });
    req.on('error', (error) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
    req.end(body);
  });
}

async function nonce(device) {
  const res = await call(device, 'GET', `/v1/nonce?device=${encodeURIComponent(device.id)}`);
  if (res.status !== 200) throw new Error(`nonce ${device.id}: ${res.status} ${res.text}`);
  return JSON.parse(res.text).nonce;
}

const scenarios = {
  async checkin(device, close, twostep = false) {
    const held = twostep ? undefined : device.heldNonce;
    device.heldNonce = undefined;
    const payload = {
      type: 'checkin', deviceId: device.id, hardwareId: job.hardwareId, currentVersion: job.currentVersion, imageSha256: job.imageSha256, bootedSlot: 'A',
      securityVersion: 0, supportedDeltaFormats: ['ops-v1', 'bsdiff'], nonce: held ?? (await nonce(device)), sentAt: new Date().toISOString(),
      ...(!twostep && { acceptsNextNonce: true }),
    };
    if (held) heldUsed++;
    const res = await call(device, 'POST', '/v1/checkin', { body: JSON.stringify(signPayload(payload, device.key)), headers: close ? { connection: 'close' } : {} });
    if (res.status !== 200) throw new Error(`checkin ${device.id}: ${res.status} ${res.text}`);
    const answer = JSON.parse(res.text);
    if (answer.action !== 'none' || !answer.signedAnswer) throw new Error(`checkin ${device.id}: answered ${res.text.slice(0, 200)}`);
    if (!twostep && !answer.nextNonce) throw new Error(`checkin ${device.id}: no nextNonce in the answer`);
    device.heldNonce = answer.nextNonce?.nonce;
  },
  twostep(device) {
    return scenarios.checkin(device, false, true);
  },
  resumed(device) {
    return scenarios.checkin(device, true);
  },
  full(device) {
    return scenarios.checkin(device, true); // no session cache on this agent: a full handshake each time
  },
  plain(device) {
    return scenarios.checkin(device);
  },
  async report(device) {
    device.counter++;
    const payload = {
      type: 'report', deviceId: device.id, releaseVersion: job.currentVersion, imageSha256: job.imageSha256, slot: 'A', bootCount: 1, state: 'committed',
      metrics: { crashCount: 0, uptimeSeconds: 60, freeMemoryBytes: 64 * 1024 * 1024 }, custom: {}, createdAt: new Date().toISOString(), counter: device.counter, nonce: await nonce(device),
    };
    const res = await call(device, 'POST', '/v1/reports', { body: JSON.stringify(signPayload(payload, device.key)) });
    if (res.status !== 200) throw new Error(`report ${device.id}: ${res.status} ${res.text}`);
  },
  async range(device) {
    const chunk = 64 * 1024;
    const start = chunk * Math.floor(Math.random() * Math.floor(job.rangeLength / chunk));
    const res = await call(device, 'GET', `/v1/artifacts/${job.rangeKey}`, { headers: { range: `bytes=${start}-${start + chunk - 1}` } });
    if (res.status !== 206 || res.bytes !== chunk) throw new Error(`range ${device.id}: ${res.status}, ${res.bytes} bytes`);
    bytes += res.bytes;
  },
};
let bytes = 0;

const run = scenarios[job.scenario];
if (!run) throw new Error(`unknown scenario ${job.scenario}`);

/** Virtual users until `until`; each takes the next device of its own share. */
async function drive(until, record, everyDevice = false) {
  const share = Math.ceil(devices.length / job.concurrency);
  await Promise.all(Array.from({ length: job.concurrency }, async (_, user) => {
    const mine = devices.slice(user * share, (user + 1) * share);
    for (let i = 0; mine.length && (performance.now() < until || (everyDevice && i < mine.length)); i++) {
      const device = mine[i % mine.length];
      const started = performance.now();
      try {
        await run(device);
        record.latencies.push(performance.now() - started);
      } catch (error) {
        record.errors++;
        record.firstError ??= String(error?.message ?? error);
      }
    }
  }));
}

// Warm-up, at least once per device: TLS sessions, keep-alive connections, the gateway's JIT and caches; not counted.
await drive(performance.now() + job.warmupMs, { latencies: [], errors: 0 }, true);
process.send?.('warm');
await new Promise((resolve) => process.once('message', resolve));
handshakes = 0;
resumed = 0;
heldUsed = 0;
bytes = 0;
retries = 0;
const record = { latencies: [], errors: 0, firstError: undefined };
const cpuAtStart = process.cpuUsage();
const started = performance.now();
await drive(started + job.durationMs, record);
const seconds = (performance.now() - started) / 1000;
process.send?.({ seconds, count: record.latencies.length, errors: record.errors, firstError: record.firstError, latencies: record.latencies, handshakes, resumed, heldUsed, bytes, retries, cpu: process.cpuUsage(cpuAtStart) }, () => process.exit(0));
for (const d of devices) d.agent.destroy();
