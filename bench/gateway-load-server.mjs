#!/usr/bin/env node
// The gateway under test for bench/gateway-load.mjs, alone in its process: the real startGateway
// over mTLS (or plain HTTP with `plain` in the config, for the TLS cost) on PostgreSQL and a local artifact store, rate limits off (the bench is one address).
// Speaks to its parent over IPC: `ready` with its URL; `cpu` answers process.cpuUsage() and the
// event-loop utilization since the last ask; `profileStart` / `profileStop` (a path) run the V8 CPU
// profiler over a window; `stop` closes and exits.
// @ts-check
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { pathToFileURL, fileURLToPath } from 'node:url';

const dist = (p) => import(pathToFileURL(fileURLToPath(new URL(`../dist/${p}`, import.meta.url))).href);
const config = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8'));
const [{ FleetStore }, { startGateway }, { LocalArtifactStore }] = await Promise.all([dist('fleet/fleet-store.js'), dist('gateway/server.js'), dist('stores/local-store.js')]);

const fleet = await FleetStore.open(config.databaseUrl);
const store = new LocalArtifactStore(config.storeDir);
const gateway = await startGateway({
  host: '127.0.0.1',
  port: 0,
  version: 'bench',
  fleet,
  store,
  releasePolicy: 'newest',
  rateLimits: false,
  nonceTtlSeconds: 600,
  ...(config.plain ? {} : { tls: { key: config.tls.key, cert: config.tls.cert }, deviceIdentity: { ca: config.ca } }),
  logError: (error) => process.stderr.write(`gateway: ${error?.stack ?? error}\n`),
});
let elu = performance.eventLoopUtilization();
let profiler;
process.on('message', async (message) => {
  if (message === 'cpu') {
    const now = performance.eventLoopUtilization();
    process.send?.({ cpu: process.cpuUsage(), eventLoop: performance.eventLoopUtilization(now, elu).utilization, rss: process.memoryUsage().rss });
    elu = now;
  } else if (message?.profileStart) {
    // The V8 CPU profiler over the timed window only (not start-up or the warm-up's first connections).
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.setSamplingInterval', { interval: 1000 });
    await profiler.post('Profiler.start');
    process.send?.({ profiling: true });
  } else if (message?.profileStop) {
    const { profile } = await profiler.post('Profiler.stop');
    writeFileSync(message.profileStop, JSON.stringify(profile));
    profiler.disconnect();
    process.send?.({ profiled: message.profileStop });
  } else if (message === 'stop') {
    gateway.server.closeAllConnections?.();
    await gateway.close().catch(() => {});
    await fleet.close();
    process.exit(0);
  }
});
process.send?.({ ready: gateway.url });
