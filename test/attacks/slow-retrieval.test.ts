// Attack class: slow retrieval. A gateway (a real local HTTP server) that sends its headers and then
// trickles one byte every 50 ms, forever: the device's one deadline for an answer (headers and body)
// ends it with GATEWAY_TIMEOUT, the round counts as offline (try later), nothing on the device
// changes. An artifact download that trickles below download.minBytesPerSecond is abandoned
// (DOWNLOAD_TOO_SLOW once its attempts run out), what arrived kept for a resume. (A download cut
// midway and resumed: test/device-client/agent/against-gateway.test.ts.)
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkInOnce } from '../../device-client/agent/checkin.js';
import { downloadResumable } from '../../device-client/agent/download.js';
import { GatewayClient } from '../../device-client/gateway/gateway-client.js';
import { generateDeviceKey } from '../../schemas/device-envelope.js';
import type { PublishedFixture, SampleRelease } from '../support/device-releases.js';
import { createSimDevice } from '../support/device-sim.js';
import { deviceSnapshot, unsignedFixture } from '../support/device-state-snapshot.js';
import { startHostileGateway, type HostileGateway } from '../support/hostile-gateway.js';

let root: string;
let fixture: PublishedFixture;
let factory: SampleRelease;
let gateway: HostileGateway | undefined;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ota-attack-slow-'));
  ({ fixture, factory } = await unsignedFixture(root));
});
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const TIMEOUT_MS = 1_500;

describe('attack: slow retrieval', () => {
  it.each(['/v1/nonce', '/v1/checkin'])('a trickled answer to %s: GATEWAY_TIMEOUT at the deadline, the round is offline, nothing changed', async (path) => {
    gateway = await startHostileGateway((p) => (p === path ? 'trickle' : undefined));
    const sim = await createSimDevice(join(root, path.replaceAll('/', '_')), fixture, { factory, config: { gatewayUrl: gateway.url } });
    const client = new GatewayClient(gateway.url, { timeoutMs: TIMEOUT_MS });
    const key = generateDeviceKey('ed25519');

    const started = Date.now();
    const error = await (path === '/v1/nonce' ? client.nonce(sim.config.deviceId) : client.checkin(key, {
      type: 'checkin', deviceId: sim.config.deviceId, hardwareId: sim.config.hardwareId, currentVersion: '1.0.0',
      imageSha256: factory.sha256, bootedSlot: 'A', securityVersion: 1, supportedDeltaFormats: ['ops'],
    })).catch((e: unknown) => e as Error & { code?: string });
    const elapsed = Date.now() - started;
    expect(error).toMatchObject({ code: 'GATEWAY_TIMEOUT' });
    // Ended by the deadline, not by the server: the bytes kept coming.
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 5_000);

    // A whole agent round against it: offline, reports stay queued, the device unchanged.
    const before = await deviceSnapshot(sim);
    const round = await checkInOnce(await sim.open(), { client, key, bootCheck: false });
    expect(round).toMatchObject({ outcome: 'offline', reports: { skipped: 'gateway unreachable; reports stay queued' } });
    expect(round.error).toMatch(/did not arrive in time|timed out/);
    expect(await deviceSnapshot(sim)).toEqual(before);
  });

  it('an artifact trickled below download.minBytesPerSecond: each attempt cut at its window, then DOWNLOAD_TOO_SLOW; the partial file kept', async () => {
    gateway = await startHostileGateway(() => 'trickle');
    const path = join(root, 'artifact.bin');
    const started = Date.now();
    const error = await downloadResumable({
      url: `${gateway.url}/v1/artifacts/blobs/sha256/${'0'.repeat(64)}`,
      path,
      length: 1 << 20,
      sha256: '0'.repeat(64),
      maxAttempts: 2,
      baseDelayMs: 10,
      maxDelayMs: 10,
      stallTimeoutMs: 500,
      minBytesPerSecond: 1_000,
    }).catch((e: unknown) => e as Error & { code?: string });
    expect(error).toMatchObject({ name: 'DownloadError', code: 'DOWNLOAD_TOO_SLOW' });
    expect((error as Error).message).toMatch(/slow retrieval: \d+ bytes in 500 ms, below the minimum of 1000 bytes\/s/);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await stat(`${path}.part`)).size).toBeGreaterThan(0);
  });
});
