#!/usr/bin/env node
// The gateway under test for bench/gateway-load.mjs, alone in its process: the real startGateway
// over mTLS on PostgreSQL and a local artifact store, rate limits off (the bench is one address).
// Speaks to its parent over IPC: `ready` with its URL; `cpu` answers process.cpuUsage() and the
// event-loop utilization since the last ask; `stop` closes and exits (a --cpu-prof run writes its
// profile then).
// @ts-check
import { readFileSync } from 'node:fs';
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
  tls: { key: config.tls.key, cert: config.tls.cert },
  deviceIdentity: { ca: config.ca },
  logError: (error) => process.stderr.write(`gateway: ${error?.stack ?? error}\n`),
});
let elu = performance.eventLoopUtilization();
process.on('message', async (message) => {
  if (message === 'cpu') {
    const now = performance.eventLoopUtilization();
    process.send?.({ cpu: process.cpuUsage(), eventLoop: performance.eventLoopUtilization(now, elu).utilization, rss: process.memoryUsage().rss });
    elu = now;
  } else if (message === 'stop') {
    gateway.server.closeAllConnections?.();
    await gateway.close().catch(() => {});
    await fleet.close();
    process.exit(0);
  }
});
process.send?.({ ready: gateway.url });
