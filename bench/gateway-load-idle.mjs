#!/usr/bin/env node
// What an idle kept-alive device connection costs the gateway in memory (the price of
// gateway.keepAliveTimeoutSeconds): a gateway process over mutual TLS (TLS 1.3, client certificate
// per device) and one generator process that opens N connections, each with its own device
// certificate, makes one request on each and leaves it idle. The gateway's RSS and V8 heap (after a
// forced GC) before and after, divided by N.
//
//   node bench/gateway-load-idle.mjs [--connections 2000] [--json]
//
// Uses the compiled dist/ (npm run build).
// @ts-check
import { fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const role = option('--role', 'main');
const dist = (p) => import(pathToFileURL(fileURLToPath(new URL(`../dist/${p}`, import.meta.url))).href);
const say = (line) => process.stderr.write(`${line}\n`);
/** @param {import('node:child_process').ChildProcess} child */
const ask = (child, message) => new Promise((resolve) => child.once('message', resolve).send(message));
/** A child of this file in `role`, once it listens for its job (a message sent earlier could be lost while it loads). */
const start = (role, execArgv = []) => {
  const child = fork(fileURLToPath(import.meta.url), ['--role', role], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => (child.once('message', () => resolve(child)), child.once('exit', (code) => reject(new Error(`${role} exited with ${code}`)))));
};

if (role === 'gateway') {
  // The gateway alone in its process: mTLS on, no fleet (only /healthz answers; the TLS layer asks
  // for and checks the client certificate on every connection all the same).
  const { startGateway } = await dist('gateway/server.js');
  /** @type {any} */
  const job = await new Promise((resolve) => (process.once('message', resolve), process.send?.('listening')));
  const gateway = await startGateway({ host: '127.0.0.1', port: 0, version: 'idle', tls: job.tls, deviceIdentity: { ca: job.ca }, rateLimits: false });
  const measure = () => {
    globalThis.gc?.();
    const m = process.memoryUsage();
    return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, connections: 0 };
  };
  process.on('message', async (m) => {
    if (m === 'measure') {
      const sample = measure();
      sample.connections = await new Promise((resolve) => gateway.server.getConnections((_e, n) => resolve(n)));
      process.send?.(sample);
    } else if (m === 'stop') {
      gateway.server.closeAllConnections?.();
      await gateway.close().catch(() => {});
      process.exit(0);
    }
  });
  process.send?.({ url: gateway.url });
} else if (role === 'client') {
  const { Agent, request } = await import('node:https');
  /** @type {any} */
  const job = await new Promise((resolve) => (process.once('message', resolve), process.send?.('listening')));
  const agents = [];
  for (let i = 0; i < job.devices.length; i += 50) {
    await Promise.all(job.devices.slice(i, i + 50).map((d) => new Promise((resolve, reject) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: job.caPem, cert: d.certPem, key: d.keyPem, minVersion: 'TLSv1.3' });
      agents.push(agent);
      const req = request(`${job.url}/healthz`, { agent }, (res) => res.resume().on('end', resolve));
      req.on('error', reject).end();
    })));
  }
  await new Promise((r) => setTimeout(r, 200));
  const open = agents.filter((a) => Object.values(a.freeSockets).flat().some((s) => !s.destroyed)).length;
  process.send?.({ open });
  await new Promise((resolve) => process.once('message', resolve));
  for (const a of agents) a.destroy();
  process.exit(0);
} else {
  const N = Number(option('--connections', '2000'));
  const [{ createFleetCa }, { issueServerCertificate, issueDeviceCertificate }, { generateDeviceKey }] = await Promise.all([dist('identity/fleet-ca.js'), dist('identity/issue.js'), dist('schemas/device-envelope.js')]);
  const ca = await createFleetCa();
  const server = await issueServerCertificate(ca, { ipAddresses: ['127.0.0.1'] });
  say(`idle connections: issuing ${N} device certificates (not measured)`);
  const devices = [];
  for (let i = 0; i < N; i++) {
    const key = generateDeviceKey('ecdsa-p256-sha256');
    const cert = await issueDeviceCertificate(ca, { deviceId: `idle-${i}`, publicKeyPem: key.publicKeyPem, now: new Date() });
    devices.push({ certPem: cert.chainPem, keyPem: key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() });
  }
  const gateway = /** @type {any} */ (await start('gateway', ['--expose-gc']));
  const { url } = /** @type {any} */ (await ask(gateway, { tls: { key: server.keyPem, cert: server.chainPem }, ca }));
  // One warm connection first, so the TLS and HTTP code paths are loaded before the baseline.
  const warm = /** @type {any} */ (await start('client'));
  await ask(warm, { url, caPem: ca.root.certPem, devices: devices.slice(0, 1) });
  warm.send('done');
  await new Promise((r) => setTimeout(r, 500));
  const before = /** @type {any} */ (await ask(gateway, 'measure'));
  const client = /** @type {any} */ (await start('client'));
  const opened = /** @type {any} */ (await ask(client, { url, caPem: ca.root.certPem, devices }));
  if (opened.open !== N) say(`only ${opened.open} of ${N} connections stayed open at the client`);
  await new Promise((r) => setTimeout(r, 1000));
  const after = /** @type {any} */ (await ask(gateway, 'measure'));
  client.send('done');
  gateway.removeAllListeners('exit');
  gateway.send('stop');
  const per = (k) => (after[k] - before[k]) / N;
  const result = { connections: N, held: after.connections, rssBytesPerConnection: per('rss'), heapBytesPerConnection: per('heapUsed'), externalBytesPerConnection: per('external'), rssBefore: before.rss, rssAfter: after.rss, loadAvg: loadavg().map((n) => Number(n.toFixed(2))) };
  if (args.includes('--json')) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    const kib = (b) => (b / 1024).toFixed(1);
    process.stdout.write(`${N} idle mTLS connections held (${after.connections} open at the gateway): gateway RSS +${kib(after.rss - before.rss)} KiB total, ${kib(result.rssBytesPerConnection)} KiB per connection (V8 heap ${kib(result.heapBytesPerConnection)} KiB, external ${kib(result.externalBytesPerConnection)} KiB); load average ${result.loadAvg.join(' / ')}\n`);
  }
  process.exit(0);
}
