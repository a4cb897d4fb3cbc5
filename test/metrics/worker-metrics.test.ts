// `ota worker --metrics-port` (dist/) on a real Temporal dev server: GET /metrics over HTTP shows the
// rollouts in the fleet store by state, each open ring's devices, exposure and failure rate (from
// real signed reports), and the Temporal SDK's own worker metrics folded in; then `ota serve` on the
// same fleet store, with one /metrics on its gateway port.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { FleetStore } from '../../fleet/fleet-store.js';
import { freePort } from '../../platform/free-port.js';
import { waitForHttp } from '../../platform/wait-for-http.js';
import type { HealthReport } from '../../schemas/device-api.js';
import { generateDeviceKey, signPayload, type DeviceKey } from '../../schemas/device-envelope.js';
import { ensureDist, OTA_BIN } from '../support/dist.js';
import { startTemporal } from '../support/temporal.js';
import { scrape, valueOf, type Sample } from './prometheus-text.js';

const HW = 'gw-worker-metrics';
const SHA = 'd'.repeat(64);

describe('worker /metrics', { timeout: 180_000 }, () => {
  let env: TestWorkflowEnvironment;
  let dir: string;
  let worker: ChildProcess | undefined;
  let output = '';
  let metricsUrl: string;
  let skipReason: string | undefined;

  beforeAll(async () => {
    skipReason = await ensureDist();
    if (skipReason) return console.error(`\n*** SKIPPING worker metrics test: ${skipReason} ***\n`);
    dir = await mkdtemp(join(tmpdir(), 'ota-worker-metrics-'));
    const fleet = await FleetStore.open(`pglite:${join(dir, 'fleet')}`);
    try {
      const keys = new Map<string, DeviceKey>();
      for (const id of ['wm-1', 'wm-2', 'wm-3']) {
        const key = generateDeviceKey('ed25519');
        keys.set(id, key);
        await fleet.enrollDevice({ id, hardwareId: HW, channel: 'stable', labels: {}, publicKeyPem: key.publicKeyPem, keyAlgorithm: 'ed25519' });
      }
      await fleet.createRollout({ id: 'rollout-open', hardwareId: HW, channel: 'stable', releaseVersion: '2.0.0', previousVersion: '1.0.0' });
      await fleet.createRollout({ id: 'rollout-done', hardwareId: HW, channel: 'stable', releaseVersion: '1.0.0', previousVersion: null, state: 'finished' });
      await fleet.assignDevices('rollout-open', [{ deviceId: 'wm-1', ring: 'canary' }, { deviceId: 'wm-2', ring: 'canary' }, { deviceId: 'wm-3', ring: 'wide' }]);
      // wm-1 installed 2.0.0 and committed; wm-2 failed it at boot and runs 1.0.0 again.
      const report = async (id: string, version: string, state: HealthReport['state'], failureKind?: HealthReport['failureKind']) => {
        const { nonce } = await fleet.issueNonce(id, 300);
        const body: HealthReport = {
          type: 'report', deviceId: id, releaseVersion: version, imageSha256: SHA, slot: 'B', bootCount: 1, state, ...(failureKind ? { failureKind } : {}),
          metrics: { crashCount: 0, uptimeSeconds: 10, freeMemoryBytes: 1 << 20 }, custom: {}, createdAt: new Date().toISOString(), counter: 1, nonce,
        };
        expect((await fleet.storeReport(body, signPayload(body, keys.get(id)!))).kind).toBe('accepted');
      };
      await fleet.recordCheckin('wm-1', { currentVersion: '2.0.0', imageSha256: SHA, slot: 'B', securityVersion: 1 });
      await fleet.recordCheckin('wm-2', { currentVersion: '1.0.0', imageSha256: SHA, slot: 'A', securityVersion: 1 });
      await report('wm-1', '2.0.0', 'committed');
      await report('wm-2', '2.0.0', 'failed', 'boot');
    } finally {
      await fleet.close();
    }
    let config;
    ({ env, config } = await startTemporal());
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    worker = spawn(process.execPath, [OTA_BIN, 'worker', '--metrics-port', String(port)], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: dir, OTA_STATE_DIR: dir, OTA_TEMPORAL_ADDRESS: config('worker-metrics').address, OTA_TASK_QUEUE: 'worker-metrics' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    worker.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    for (const deadline = Date.now() + 90_000; !output.includes('worker polling'); await new Promise((r) => setTimeout(r, 100))) {
      if (worker.exitCode !== null) throw new Error(`worker exited with ${worker.exitCode}:\n${output}`);
      if (Date.now() > deadline) throw new Error(`worker did not start:\n${output}`);
    }
  }, 240_000);

  const stop = async (child: ChildProcess | undefined) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  let serve: ChildProcess | undefined;

  afterAll(async () => {
    await stop(worker);
    await stop(serve);
    await env?.teardown();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('shows rollouts by state, ring devices, exposure and failure rate, and the Temporal SDK worker metrics', async (ctx) => {
    if (skipReason) return ctx.skip();
    expect(output).toContain(`worker metrics on ${metricsUrl}`);
    // The SDK exports its worker metrics once the worker has polled; wait for them (generously, the machine is shared).
    let samples: Sample[] = [];
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
      const got = await scrape(metricsUrl);
      expect(got.status).toBe(200);
      samples = got.samples;
      if (samples.some((s) => s.name.startsWith('temporal_'))) break;
    }
    expect(samples.some((s) => s.name.startsWith('temporal_')), 'Temporal SDK metrics in the scrape').toBe(true);
    expect(valueOf(samples, 'ota_rollouts', { state: 'active' })).toBe(1);
    expect(valueOf(samples, 'ota_rollouts', { state: 'finished' })).toBe(1);
    expect(samples.find((s) => s.name === 'ota_rollouts' && s.labels.state === 'halted')?.value).toBe(0);
    const canary = { rollout: 'rollout-open', ring: 'canary', hardware: HW, release: '2.0.0' };
    expect(valueOf(samples, 'ota_rollout_ring_devices', canary)).toBe(2);
    expect(valueOf(samples, 'ota_rollout_ring_exposure', canary)).toBe(1);
    expect(valueOf(samples, 'ota_rollout_ring_failures', canary)).toBe(1);
    expect(valueOf(samples, 'ota_rollout_ring_failure_rate', canary)).toBe(0.5);
    expect(valueOf(samples, 'ota_rollout_ring_devices', { rollout: 'rollout-open', ring: 'wide' })).toBe(1);
    expect(valueOf(samples, 'ota_rollout_ring_failure_rate', { rollout: 'rollout-open', ring: 'wide' })).toBe(0);
    // Finished rollouts have no ring gauges (label sets stay bounded by what is open).
    expect(samples.some((s) => s.labels.rollout === 'rollout-done')).toBe(false);
    expect(samples.find((s) => s.name === 'ota_rollouts')?.labels.service).toBe('worker');
  });

  it('ota serve answers one /metrics on the gateway port with the gateway and rollout metrics', async (ctx) => {
    if (skipReason) return ctx.skip();
    await stop(worker); // PGlite: one opener of the fleet store at a time
    const port = await freePort();
    serve = spawn(process.execPath, [OTA_BIN, 'serve', '--port', String(port)], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: dir, OTA_STATE_DIR: dir, OTA_TEMPORAL_ADDRESS: env.address, OTA_TASK_QUEUE: 'worker-metrics' },
      stdio: 'ignore',
    });
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, 90_000);
    const { status, samples } = await scrape(`http://127.0.0.1:${port}/metrics`);
    expect(status).toBe(200);
    expect(valueOf(samples, 'ota_gateway_requests_total', { route: '/healthz', service: 'serve' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'ota_rollout_ring_failure_rate', { rollout: 'rollout-open', ring: 'canary', service: 'serve' })).toBe(0.5);
    expect(valueOf(samples, 'ota_rollouts', { state: 'active', service: 'serve' })).toBe(1);
  });
});
