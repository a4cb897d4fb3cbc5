// The device API over real HTTP on 127.0.0.1: a real gateway, a real fleet store (PGlite) and a
// real local artifact store holding a release index and manifests written through the schemas.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDeviceKey, signPayload, type DeviceKey } from '../../schemas/device-envelope.js';
import { FleetStore } from '../../fleet/fleet-store.js';
import { startGateway, type RunningGateway } from '../../gateway/server.js';
import { manifestKey } from '../../release/layout.js';
import type { CheckinRequest, CheckinResponse, HealthReport } from '../../schemas/device-api.js';
import type { Manifest, ReleaseIndexEntry } from '../../schemas/manifest.js';
import { LocalArtifactStore } from '../../stores/local-store.js';
import { publishStubRelease, writeStubIndex } from '../support/stub-release.js';
import { enrollBody, preauthorizeAndEnroll } from '../support/admission.js';

const HW = 'gw-test';
const sha = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

let root: string;
let store: LocalArtifactStore;
let fleet: FleetStore;
let gateway: RunningGateway;
const images: Record<string, Buffer> = {};
const imageKeys: Record<string, string> = {};

/** Publishes a release the way the pipeline lays it out: blobs, manifest, bundle, index entry. */
async function publish(version: string, securityVersion: number, deltaFrom?: string): Promise<ReleaseIndexEntry> {
  const image = Buffer.alloc(300_000 + Number(version.split('.')[0]) * 1000);
  for (let i = 0; i < image.length; i++) image[i] = (i * 31 + version.charCodeAt(0)) & 0xff;
  images[version] = image;
  const deltas: Manifest['deltas'] = [];
  if (deltaFrom) {
    const delta = await store.putBlob([`delta ${deltaFrom} -> ${version}`]);
    deltas.push({ format: 'bsdiff', fromVersion: deltaFrom, fromSha256: sha(images[deltaFrom]!), toSha256: sha(image), sha256: delta.sha256, length: delta.size, location: delta.key, compression: 'none' });
  }
  const published = await publishStubRelease(store, { hardwareId: HW, version, securityVersion, image, deltas, manifestBundle: '{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}' });
  imageKeys[version] = published.image.key;
  return published.entry;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'ota-gateway-'));
  store = new LocalArtifactStore(join(root, 'artifacts'));
  fleet = await FleetStore.open(`pglite:${join(root, 'fleet')}`);
  const v1 = await publish('1.0.0', 1);
  const v2 = await publish('2.0.0', 1, '1.0.0');
  const v3 = await publish('3.0.0', 2, '2.0.0');
  await writeStubIndex(store, HW, [v1, v2, v3]);
  gateway = await startGateway({ host: '127.0.0.1', port: 0, version: 'test', fleet, store, logError: () => {} });
});

afterAll(async () => {
  await gateway?.close();
  await fleet?.close();
  await store?.close();
  rmSync(root, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${gateway.url}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? (JSON.parse(text) as Record<string, any>) : undefined };
}

let deviceSeq = 0;
interface TestDevice {
  id: string;
  key: DeviceKey;
}

async function enrollDevice(algorithm: DeviceKey['algorithm'] = 'ed25519', labels: Record<string, string> = {}): Promise<TestDevice> {
  const key = generateDeviceKey(algorithm);
  const id = `gw-dev-${++deviceSeq}`;
  await preauthorizeAndEnroll(gateway.url, fleet, { id, hardwareId: HW, key, labels });
  return { id, key };
}

async function nonceFor(id: string): Promise<string> {
  const res = await call('GET', `/v1/nonce?device=${id}`);
  expect(res.status).toBe(200);
  return res.json!.nonce as string;
}

function reportBody(device: TestDevice, counter: number, nonce: string, extra: Partial<HealthReport> = {}): HealthReport {
  return {
    type: 'report', deviceId: device.id, releaseVersion: '2.0.0', imageSha256: 'b'.repeat(64), slot: 'B', bootCount: 1, state: 'committed',
    metrics: { crashCount: 0, uptimeSeconds: 3600, freeMemoryBytes: 52_428_800 }, custom: { 'cpu.temp.mc': 41000, site: 'store-7' },
    createdAt: '2026-03-01T10:00:00Z', counter, nonce, ...extra,
  };
}

async function sendReport(device: TestDevice, body: unknown, key: DeviceKey = device.key) {
  return call('POST', '/v1/reports', signPayload(body, key));
}

async function checkin(device: TestDevice, current: { version: string | null; sha: string; securityVersion?: number }) {
  const body: CheckinRequest = {
    type: 'checkin', deviceId: device.id, hardwareId: HW, currentVersion: current.version, imageSha256: current.sha, bootedSlot: 'A',
    securityVersion: current.securityVersion ?? 1, supportedDeltaFormats: ['bsdiff', 'zstd-patch'], nonce: await nonceFor(device.id), sentAt: '2026-03-01T10:00:00Z',
  };
  return call('POST', '/v1/checkin', signPayload(body, device.key));
}

describe('enrollment (the admission paths: test/gateway/admission-paths.test.ts)', () => {
  it('is closed to a device the operator did not admit, with or without a made-up token', async () => {
    const key = generateDeviceKey('ed25519');
    const body = enrollBody({ id: 'intruder', hardwareId: HW, key });
    expect(await call('POST', '/v1/enroll', body)).toMatchObject({ status: 403, json: { error: 'not-preauthorized' } });
    expect(await call('POST', '/v1/enroll', body, { authorization: 'Bearer nope' })).toMatchObject({ status: 401, json: { error: 'enrollment-token-invalid' } });
    expect(await fleet.getDevice('intruder')).toBeUndefined();
  });

  it('enrolls Ed25519 and P-256 devices, idempotently, and refuses a second key for the same id', async () => {
    const device = await enrollDevice('ecdsa-p256-sha256', { region: 'eu' });
    const again = await call('POST', '/v1/enroll', enrollBody({ id: device.id, hardwareId: HW, key: device.key }));
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ status: 'admitted', deviceId: device.id, created: false });
    const other = generateDeviceKey('ed25519');
    const taken = await call('POST', '/v1/enroll', enrollBody({ id: device.id, hardwareId: HW, key: other }));
    expect(taken).toMatchObject({ status: 409, json: { error: 'device-exists' } });
    expect((await fleet.getDevice(device.id))?.labels).toEqual({ region: 'eu' });
  });

  it('refuses a key that is not what the request says it is', async () => {
    const key = generateDeviceKey('ed25519');
    const body = { ...enrollBody({ id: 'liar', hardwareId: HW, key }), publicKey: { algorithm: 'ecdsa-p256-sha256', pem: key.publicKeyPem } };
    const res = await call('POST', '/v1/enroll', body);
    expect(res.status).toBe(400);
    expect(res.json!.detail).toMatch(/publicKey\.algorithm/);
  });
});

describe('reports', () => {
  it('accepts a signed report, then rejects a replay, a reused nonce, a forged signature and a malformed report', async () => {
    for (const algorithm of ['ed25519', 'ecdsa-p256-sha256'] as const) {
      const device = await enrollDevice(algorithm);
      const nonce1 = await nonceFor(device.id);
      const accepted = await sendReport(device, reportBody(device, 1, nonce1));
      expect(accepted.status, JSON.stringify(accepted.json)).toBe(200);
      expect(accepted.json).toEqual({ status: 'accepted', counter: 1 });

      // The very same envelope again.
      const replay = await call('POST', '/v1/reports', signPayload(reportBody(device, 1, nonce1), device.key));
      expect(replay.status).toBe(409);
      // Same counter with a fresh nonce: still a replay.
      const sameCounter = await sendReport(device, reportBody(device, 1, await nonceFor(device.id)));
      expect(sameCounter.status).toBe(409);
      expect(sameCounter.json).toMatchObject({ error: 'stale-counter' });
      // Higher counter, used nonce.
      const reused = await sendReport(device, reportBody(device, 2, nonce1));
      expect(reused.json).toMatchObject({ error: 'nonce-used' });
      // Another device's nonce.
      const stranger = await enrollDevice();
      const foreign = await sendReport(device, reportBody(device, 2, await nonceFor(stranger.id)));
      expect(foreign.json).toMatchObject({ error: 'nonce-unknown' });
      // Signed by a key that is not the enrolled one.
      const forged = await sendReport(device, reportBody(device, 2, await nonceFor(device.id)), generateDeviceKey(algorithm));
      expect(forged.status).toBe(401);
      expect(forged.json).toMatchObject({ error: 'bad-signature' });
      // A tampered payload under a valid signature.
      const envelope = signPayload(reportBody(device, 2, await nonceFor(device.id)), device.key);
      const tampered = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
      tampered.state = 'failed';
      tampered.failureKind = 'boot';
      const tamperedRes = await call('POST', '/v1/reports', { ...envelope, payload: Buffer.from(JSON.stringify(tampered)).toString('base64') });
      expect(tamperedRes.status).toBe(401);

      const later = await sendReport(device, reportBody(device, 7, await nonceFor(device.id), { state: 'failed', failureKind: 'health' }));
      expect(later.status).toBe(200);
      const state = await fleet.getDeviceWithState(device.id);
      expect(state?.state).toMatchObject({ lastCounter: 7, state: 'failed', failureKind: 'health' });
      expect((await fleet.reportsOf(device.id)).map((r) => r.counter)).toEqual([7, 1]);
    }
  });

  it('answers a malformed report with 400 naming the field', async () => {
    const device = await enrollDevice();
    const bad = await sendReport(device, { ...reportBody(device, 1, await nonceFor(device.id)), metrics: { crashCount: -1, uptimeSeconds: 1, freeMemoryBytes: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: 'invalid-payload' });
    expect(bad.json!.detail).toContain('payload.metrics.crashCount');
    const missingKind = await sendReport(device, reportBody(device, 1, await nonceFor(device.id), { state: 'failed' }));
    expect(missingKind.json!.detail).toContain('payload.failureKind: required when state is "failed"');
    const unknownField = await sendReport(device, { ...reportBody(device, 1, await nonceFor(device.id)), colour: 'red' });
    expect(unknownField.json!.detail).toContain('payload.colour: unknown field');
    const notEnvelope = await call('POST', '/v1/reports', { payload: 'x' });
    expect(notEnvelope.status).toBe(400);
    expect(notEnvelope.json!.detail).toMatch(/signature/);
    const notJson = await call('POST', '/v1/reports', '{not json');
    expect(notJson.json).toMatchObject({ error: 'malformed-json' });
    const huge = await call('POST', '/v1/reports', JSON.stringify({ payload: 'A'.repeat(200_000) }));
    expect(huge.status).toBe(413);
    // Nothing was stored by any of these.
    expect((await fleet.getDeviceWithState(device.id))?.state.lastCounter).toBe(0);
  });

  it('refuses unknown and revoked devices', async () => {
    const ghost: TestDevice = { id: 'never-enrolled', key: generateDeviceKey('ed25519') };
    expect((await call('GET', `/v1/nonce?device=${ghost.id}`)).json).toMatchObject({ error: 'unknown-device' });
    const unknown = await sendReport(ghost, reportBody(ghost, 1, 'n'.repeat(43)));
    expect(unknown.status).toBe(403);
    expect(unknown.json).toMatchObject({ error: 'unknown-device' });

    const device = await enrollDevice();
    const nonce = await nonceFor(device.id);
    const checkinNonce = await nonceFor(device.id);
    await fleet.revokeDevice(device.id, 'stolen from store 7');
    const revoked = await sendReport(device, reportBody(device, 1, nonce));
    expect(revoked.status).toBe(403);
    expect(revoked.json).toMatchObject({ error: 'device-revoked' });
    expect((await call('GET', `/v1/nonce?device=${device.id}`)).status).toBe(403);
    const body: CheckinRequest = { type: 'checkin', deviceId: device.id, hardwareId: HW, currentVersion: '1.0.0', imageSha256: sha(images['1.0.0']!), bootedSlot: 'A', securityVersion: 1, supportedDeltaFormats: ['bsdiff'], nonce: checkinNonce, sentAt: '2026-03-01T10:00:00Z' };
    expect((await call('POST', '/v1/checkin', signPayload(body, device.key))).json).toMatchObject({ error: 'device-revoked' });
  });
});

describe('check-in', () => {
  it('offers the newest release by delta from the installed image, and nothing when up to date', async () => {
    const device = await enrollDevice();
    const offer = await checkin(device, { version: '2.0.0', sha: sha(images['2.0.0']!) });
    expect(offer.status, JSON.stringify(offer.json)).toBe(200);
    const body = offer.json as CheckinResponse & { action: 'update' };
    expect(body.action).toBe('update');
    expect(body.release).toMatchObject({ version: '3.0.0', securityVersion: 2, manifestUrl: `/v1/releases/${HW}/3.0.0/manifest.json`, bundleUrl: `/v1/releases/${HW}/3.0.0/manifest.json.sigstore.json` });
    expect(body.artifact).toMatchObject({ kind: 'delta', fromVersion: '2.0.0', format: 'bsdiff' });
    // The offered URLs resolve on the gateway.
    const manifest = await fetch(new URL(body.release.manifestUrl, gateway.url));
    expect(Buffer.from(await manifest.arrayBuffer()).equals(await store.getBytes(manifestKey(HW, '3.0.0')))).toBe(true);
    const delta = await fetch(new URL(body.artifact.url, gateway.url));
    expect(sha(Buffer.from(await delta.arrayBuffer()))).toBe(body.artifact.sha256);

    // From 1.0.0 there is no delta to 3.0.0: the full image.
    const full = (await checkin(device, { version: '1.0.0', sha: sha(images['1.0.0']!) })).json as CheckinResponse & { action: 'update' };
    expect(full.artifact).toMatchObject({ kind: 'full', url: `/v1/artifacts/${imageKeys['3.0.0']}`, length: images['3.0.0']!.length });

    expect((await checkin(device, { version: '3.0.0', sha: sha(images['3.0.0']!), securityVersion: 2 })).json).toMatchObject({ action: 'none' });
    expect((await fleet.getDeviceWithState(device.id))?.state).toMatchObject({ currentVersion: '3.0.0', securityVersion: 2 });
  });

  it('obeys rollout assignments: a gated release only for assigned devices, hold, rollback', async () => {
    const canary = await enrollDevice();
    const other = await enrollDevice();
    await fleet.createRollout({ id: 'rollout-3', hardwareId: HW, channel: 'stable', releaseVersion: '3.0.0', previousVersion: '2.0.0' });
    await fleet.assignDevices('rollout-3', [{ deviceId: canary.id, ring: 'canary' }]);
    const on2 = { version: '2.0.0', sha: sha(images['2.0.0']!) };
    expect((await checkin(canary, on2)).json).toMatchObject({ action: 'update', rolloutId: 'rollout-3', release: { version: '3.0.0' } });
    expect((await checkin(other, on2)).json).toMatchObject({ action: 'none' });
    const on1 = (await checkin(other, { version: '1.0.0', sha: sha(images['1.0.0']!) })).json!;
    expect(on1).toMatchObject({ action: 'update', release: { version: '2.0.0' } });

    await fleet.setAssignmentAction('rollout-3', 'hold', { reason: 'canary breached: 1 boot failure' });
    expect((await checkin(canary, on2)).json).toMatchObject({ action: 'hold', reason: 'canary breached: 1 boot failure' });

    await fleet.setAssignmentAction('rollout-3', 'rollback', { reason: 'crash loop' });
    const back = (await checkin(canary, { version: '3.0.0', sha: sha(images['3.0.0']!), securityVersion: 1 })).json!;
    expect(back).toMatchObject({ action: 'rollback', targetVersion: '2.0.0', targetImageSha256: sha(images['2.0.0']!), release: { version: '2.0.0' }, artifact: { kind: 'full' } });
    await fleet.setRolloutState('rollout-3', 'aborted');
    expect((await checkin(other, on2)).json).toMatchObject({ action: 'none' }); // an aborted release is never offered freely
  });

  it('refuses a forged check-in and one for other hardware', async () => {
    const device = await enrollDevice();
    const body: CheckinRequest = { type: 'checkin', deviceId: device.id, hardwareId: 'other-hw', currentVersion: null, imageSha256: 'c'.repeat(64), bootedSlot: 'A', securityVersion: 0, supportedDeltaFormats: [], nonce: await nonceFor(device.id), sentAt: '2026-03-01T10:00:00Z' };
    expect((await call('POST', '/v1/checkin', signPayload(body, device.key))).json).toMatchObject({ error: 'hardware-mismatch' });
    const forged = await call('POST', '/v1/checkin', signPayload({ ...body, hardwareId: HW }, generateDeviceKey('ed25519')));
    expect(forged.status).toBe(401);
  });
});

describe('downloads', () => {
  it('serves artifacts with Range so an interrupted download resumes', async () => {
    const key = imageKeys['2.0.0']!;
    const image = images['2.0.0']!;
    const whole = await fetch(`${gateway.url}/v1/artifacts/${key}`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(Number(whole.headers.get('content-length'))).toBe(image.length);
    await whole.body?.cancel();

    // Read a first part, hang up, resume from there.
    const cut = 123_457;
    const first = await fetch(`${gateway.url}/v1/artifacts/${key}`, { headers: { range: `bytes=0-${cut - 1}` } });
    expect(first.status).toBe(206);
    expect(first.headers.get('content-range')).toBe(`bytes 0-${cut - 1}/${image.length}`);
    const head = Buffer.from(await first.arrayBuffer());
    const rest = await fetch(`${gateway.url}/v1/artifacts/${key}`, { headers: { range: `bytes=${cut}-` } });
    expect(rest.status).toBe(206);
    expect(rest.headers.get('content-range')).toBe(`bytes ${cut}-${image.length - 1}/${image.length}`);
    const tail = Buffer.from(await rest.arrayBuffer());
    expect(Buffer.concat([head, tail]).equals(image)).toBe(true);

    const suffix = await fetch(`${gateway.url}/v1/artifacts/${key}`, { headers: { range: 'bytes=-10' } });
    expect(Buffer.from(await suffix.arrayBuffer()).equals(image.subarray(image.length - 10))).toBe(true);

    const beyond = await fetch(`${gateway.url}/v1/artifacts/${key}`, { headers: { range: `bytes=${image.length}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${image.length}`);
    expect(await beyond.json()).toMatchObject({ error: 'range-not-satisfiable' });

    // A changed object (If-Range mismatch) is sent whole, not spliced.
    const stale = await fetch(`${gateway.url}/v1/artifacts/${key}`, { headers: { range: `bytes=${cut}-`, 'if-range': '"old-etag"' } });
    expect(stale.status).toBe(200);
    await stale.body?.cancel();
  });

  it('passes manifests, bundles and indexes through, and nothing outside releases/ and blobs/', async () => {
    const index = await call('GET', `/v1/releases/${HW}/channels/stable/index.json`);
    expect(index.status).toBe(200);
    expect(index.json!.releases.map((r: { version: string }) => r.version)).toEqual(['1.0.0', '2.0.0', '3.0.0']);
    expect((await call('GET', `/v1/releases/${HW}/2.0.0/manifest.json.sigstore.json`)).status).toBe(200);
    expect((await call('GET', `/v1/releases/${HW}/9.9.9/manifest.json`)).status).toBe(404);
    expect((await call('GET', `/v1/releases/${HW}/2.0.0/secrets.txt`)).json).toMatchObject({ error: 'not-found' });
    expect((await call('GET', '/v1/artifacts/keys/signing.pem')).status).toBe(404);
    expect((await call('GET', '/v1/artifacts/releases/../../etc/passwd')).status).toBe(404);
    expect((await call('DELETE', `/v1/artifacts/${imageKeys['1.0.0']}`)).status).toBe(405);
    expect((await call('GET', '/healthz')).json).toEqual({ status: 'ok', version: 'test' });
  });
});

describe('hostile input', () => {
  it('a malformed percent-escape in a download path is a 400, never a 500', async () => {
    for (const path of ['/v1/artifacts/blobs/%zz', '/v1/releases/gw-test/%E0%A4%A/manifest.json', '/v1/artifacts/%']) {
      const res = await call('GET', path);
      expect(res.status, path).toBe(400);
      expect(res.json).toMatchObject({ error: 'malformed-path' });
    }
  });

  it('a counter far past the last one is refused and stores nothing; the device goes on from where it was', async () => {
    const device = await enrollDevice();
    expect((await sendReport(device, reportBody(device, 1, await nonceFor(device.id)))).status).toBe(200);
    // 2^53 − 1 would block every later report for good.
    const jump = await sendReport(device, reportBody(device, Number.MAX_SAFE_INTEGER, await nonceFor(device.id)));
    expect(jump.status).toBe(409);
    expect(jump.json).toMatchObject({ error: 'counter-jump' });
    expect((await fleet.getDeviceWithState(device.id))!.state.lastCounter).toBe(1);
    const next = await sendReport(device, reportBody(device, 2, await nonceFor(device.id)));
    expect(next.json).toEqual({ status: 'accepted', counter: 2 });
    expect((await fleet.reportsOf(device.id)).map((r) => r.counter)).toEqual([2, 1]);
  });
});
