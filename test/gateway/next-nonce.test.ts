// One request per check-in: a check-in that sets acceptsNextNonce gets, signed inside its answer,
// the device's next single-use nonce, and the next check-in is signed over it. Attacks: a replayed
// check-in over a spent nextNonce is refused (nonce-used) and changes nothing (no state moved, no
// further nonce issued); an expired one is nonce-expired. Older devices (no acceptsNextNonce) get
// answers without it. The device's gateway client keeps the nonce and falls back to GET /v1/nonce.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopePayloadBytes, generateDeviceKey, signPayload, type DeviceKey } from '../../schemas/device-envelope.js';
import { FleetStore } from '../../fleet/fleet-store.js';
import { MAX_NEXT_NONCE_TTL_SECONDS, nextNonceTtl, startGateway, type RunningGateway } from '../../gateway/server.js';
import { checkinAnswerPayloadSchema, checkinResponseSchema, type CheckinRequest, type SignedEnvelope } from '../../schemas/device-api.js';
import { LocalArtifactStore } from '../../stores/local-store.js';
import { writeStubIndex } from '../support/stub-release.js';
import { GatewayClient } from '../../device-client/gateway/gateway-client.js';
import { HeldNonces } from '../../platform/held-nonces.js';
import { pinnedAnswerKey } from '../../device-client/gateway/answer-verification.js';

const HW = 'gw-next-nonce';
const IMAGE = 'e'.repeat(64);

describe('nextNonceTtl', () => {
  it('defaults to the poll interval plus 600 s, held to a day, and refuses a lifetime not above the poll interval', () => {
    expect(nextNonceTtl(300)).toBe(900);
    expect(nextNonceTtl(86_000)).toBe(MAX_NEXT_NONCE_TTL_SECONDS);
    expect(nextNonceTtl(300, 301)).toBe(301);
    for (const bad of [300, 120, 0, 1.5, MAX_NEXT_NONCE_TTL_SECONDS + 1]) expect(() => nextNonceTtl(300, bad)).toThrow(/nextNonceTtlSeconds/);
  });

  it('is checked when the gateway starts', () => {
    expect(() => startGateway({ host: '127.0.0.1', port: 0, version: 't', pollAfterSeconds: 600, nextNonceTtlSeconds: 600 })).toThrow(/above pollAfterSeconds \(600\)/);
  });
});

describe('nextNonce over a real gateway', () => {
  let root: string;
  let store: LocalArtifactStore;
  let fleet: FleetStore;
  let gateway: RunningGateway;
  let shortLived: RunningGateway;
  const answerKey = generateDeviceKey('ecdsa-p256-sha256');

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'ota-next-nonce-'));
    store = new LocalArtifactStore(join(root, 'artifacts'));
    fleet = await FleetStore.open(`pglite:${join(root, 'fleet')}`);
    await writeStubIndex(store, HW, []);
    gateway = await startGateway({ host: '127.0.0.1', port: 0, version: 'test', fleet, store, answerKey, logError: () => {} });
    shortLived = await startGateway({ host: '127.0.0.1', port: 0, version: 'test', fleet, store, answerKey, pollAfterSeconds: 1, nextNonceTtlSeconds: 2, logError: () => {} });
  });
  afterAll(async () => {
    await gateway?.close();
    await shortLived?.close();
    await fleet?.close();
    await store?.close();
    rmSync(root, { recursive: true, force: true });
  });

  let seq = 0;
  async function enroll(): Promise<{ id: string; key: DeviceKey }> {
    const key = generateDeviceKey('ecdsa-p256-sha256');
    const id = `nn-${++seq}`;
    await fleet.enrollDevice({ id, hardwareId: HW, channel: 'stable', labels: {}, publicKeyPem: key.publicKeyPem, keyAlgorithm: key.algorithm });
    return { id, key };
  }
  const body = (id: string, nonce: string, currentVersion = '1.0.0', asks = true): CheckinRequest => ({
    type: 'checkin', deviceId: id, hardwareId: HW, currentVersion, imageSha256: IMAGE, bootedSlot: 'A', securityVersion: 0, supportedDeltaFormats: [], nonce, sentAt: new Date().toISOString(),
    ...(asks && { acceptsNextNonce: true as const }),
  });
  async function post(url: string, envelope: SignedEnvelope) {
    const res = await fetch(`${url}/v1/checkin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(envelope) });
    return { status: res.status, json: (await res.json()) as Record<string, any> };
  }
  const freshNonce = async (url: string, id: string) => ((await (await fetch(`${url}/v1/nonce?device=${id}`)).json()) as { nonce: string }).nonce;
  const signedPayload = (json: Record<string, any>) => checkinAnswerPayloadSchema.parse(JSON.parse(envelopePayloadBytes(json.signedAnswer).toString('utf8')));
  const nonceRows = async (id: string) => Number((await fleet.db.query<{ n: number | string }>('SELECT count(*) AS n FROM nonces WHERE device_id = $1', [id])).rows[0]!.n);
  const stateOf = async (id: string) => (await fleet.getDeviceWithState(id))!.state;

  it('answers a check-in that asks with a signed nextNonce, over which the next check-in goes in one request', async () => {
    const { id, key } = await enroll();
    const first = await post(gateway.url, signPayload(body(id, await freshNonce(gateway.url, id)), key));
    expect(first.status).toBe(200);
    const signed = signedPayload(first.json);
    expect(signed.nextNonce?.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(first.json.nextNonce).toEqual(signed.nextNonce);
    // The default lifetime: the poll interval (300 s) plus 600 s.
    const ttl = (Date.parse(signed.nextNonce!.expiresAt) - Date.now()) / 1000;
    expect(ttl).toBeGreaterThan(800);
    expect(ttl).toBeLessThanOrEqual(900);
    const second = await post(gateway.url, signPayload(body(id, signed.nextNonce!.nonce, '1.0.1'), key));
    expect(second.status).toBe(200);
    expect(signedPayload(second.json).nonce).toBe(signed.nextNonce!.nonce);
    expect((await stateOf(id)).currentVersion).toBe('1.0.1');
  });

  it('refuses a replayed check-in over a spent nextNonce with nonce-used, and changes nothing', async () => {
    const { id, key } = await enroll();
    const first = await post(gateway.url, signPayload(body(id, await freshNonce(gateway.url, id)), key));
    const next = signedPayload(first.json).nextNonce!.nonce;
    const recorded = signPayload(body(id, next, '1.0.1'), key);
    expect((await post(gateway.url, recorded)).status).toBe(200);
    const [state, nonces] = [await stateOf(id), await nonceRows(id)];
    // The same signed request again, and a new one signed over the spent nonce claiming another version.
    for (const replay of [recorded, signPayload(body(id, next, '9.9.9'), key)]) {
      const refused = await post(gateway.url, replay);
      expect(refused.status).toBe(409);
      expect(refused.json).toMatchObject({ error: 'nonce-used' });
      expect(refused.json.nextNonce).toBeUndefined();
    }
    expect(await stateOf(id)).toEqual(state);
    expect(await nonceRows(id)).toBe(nonces);
  });

  it('refuses an expired nextNonce with nonce-expired, and changes nothing', async () => {
    const { id, key } = await enroll();
    const first = await post(shortLived.url, signPayload(body(id, await freshNonce(shortLived.url, id)), key));
    const next = signedPayload(first.json).nextNonce!;
    expect(Date.parse(next.expiresAt) - Date.now()).toBeLessThanOrEqual(2_000);
    await new Promise((r) => setTimeout(r, 2_500));
    const [state, nonces] = [await stateOf(id), await nonceRows(id)];
    const refused = await post(shortLived.url, signPayload(body(id, next.nonce, '1.0.1'), key));
    expect(refused.status).toBe(409);
    expect(refused.json).toMatchObject({ error: 'nonce-expired' });
    expect(await stateOf(id)).toEqual(state);
    expect(await nonceRows(id)).toBe(nonces);
  }, 20_000);

  it("gives an older device (no acceptsNextNonce) the answer it knows: no nextNonce, signed or beside it", async () => {
    const { id, key } = await enroll();
    const nonces = await nonceRows(id);
    const nonce = await freshNonce(gateway.url, id);
    const old = await post(gateway.url, signPayload(body(id, nonce, '1.0.0', false), key));
    expect(old.status).toBe(200);
    expect(old.json.nextNonce).toBeUndefined();
    const signed = signedPayload(old.json);
    expect(signed.nextNonce).toBeUndefined();
    expect(Object.keys(signed).sort()).toEqual(['answer', 'deviceId', 'issuedAt', 'nonce', 'type']);
    const { signedAnswer: _s, ...plain } = old.json;
    expect(checkinResponseSchema.safeParse(plain).success).toBe(true);
    expect(await nonceRows(id)).toBe(nonces + 1); // only the GET /v1/nonce one
  });

  /** A GatewayClient whose requests are counted by path. */
  function countingClient(url: string, nonces = new HeldNonces()) {
    const paths: string[] = [];
    const client = new GatewayClient(url, { nonces, fetch: (u, init) => (paths.push(new URL(u).pathname), fetch(u, init)) });
    return { client, paths, nonces };
  }
  const clientBody = (id: string, currentVersion = '1.0.0') => ({ type: 'checkin' as const, deviceId: id, hardwareId: HW, currentVersion, imageSha256: IMAGE, bootedSlot: 'A' as const, securityVersion: 0, supportedDeltaFormats: [] });

  it("the device's client signs its next check-in over the pinned answer's nextNonce: one request per check-in after the first", async () => {
    const { id, key } = await enroll();
    const { client, paths, nonces } = countingClient(gateway.url);
    const pinned = pinnedAnswerKey(answerKey.publicKeyPem);
    for (let i = 0; i < 3; i++) expect((await client.checkin(key, clientBody(id), pinned)).action).toBe('none');
    expect(paths).toEqual(['/v1/nonce', '/v1/checkin', '/v1/checkin', '/v1/checkin']);
    // A new client on the same held nonces (the agent makes one per round; the default is process-wide) finds it too.
    const again = countingClient(gateway.url, nonces);
    await again.client.checkin(key, clientBody(id), pinned);
    expect(again.paths).toEqual(['/v1/checkin']);
  });

  it('falls back to GET /v1/nonce once when the held nonce is refused as used', async () => {
    const { id, key } = await enroll();
    const { client, paths, nonces } = countingClient(gateway.url);
    await client.checkin(key, clientBody(id));
    // Someone spends the held nonce first (another process of this device): the gateway refuses it, nothing changes, the client fetches a fresh one.
    const held = nonces.take(gateway.url, id)!;
    nonces.keep(gateway.url, id, { nonce: held, expiresAt: new Date(Date.now() + 600_000).toISOString() });
    expect((await post(gateway.url, signPayload(body(id, held), key))).status).toBe(200);
    expect((await client.checkin(key, clientBody(id, '1.0.2'))).action).toBe('none');
    expect(paths).toEqual(['/v1/nonce', '/v1/checkin', '/v1/checkin', '/v1/nonce', '/v1/checkin']);
    expect((await stateOf(id)).currentVersion).toBe('1.0.2');
  });

  it('asks a gateway from before nextNonce (it refuses the field, spending nothing) the old way from then on', async () => {
    const { id, key } = await enroll();
    const { createServer } = await import('node:http');
    let refusedOnce = false;
    // An older gateway in front of this one: its strict schema refuses acceptsNextNonce with 400 invalid-payload.
    const older = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      if (req.url === '/v1/checkin' && JSON.parse(envelopePayloadBytes(JSON.parse(text)).toString('utf8')).acceptsNextNonce) {
        refusedOnce = true;
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid-payload', detail: 'payload.acceptsNextNonce: unrecognized key' }));
        return;
      }
      const upstream = await fetch(`${gateway.url}${req.url}`, { method: req.method, headers: req.method === 'POST' ? { 'content-type': 'application/json' } : {}, body: req.method === 'POST' ? text : undefined });
      res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(await upstream.text());
    });
    await new Promise<void>((r) => older.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(older.address() as { port: number }).port}`;
    try {
      const { client, paths } = countingClient(url);
      for (let i = 0; i < 2; i++) expect((await client.checkin(key, clientBody(id))).action).toBe('none');
      expect(refusedOnce).toBe(true);
      // The refused first attempt's nonce is used again (not spent); then nonce + check-in each time.
      expect(paths).toEqual(['/v1/nonce', '/v1/checkin', '/v1/checkin', '/v1/nonce', '/v1/checkin']);
    } finally {
      older.close();
    }
  });

  it('does not use a held nonce about to expire, and keeps none from an answer the pinned key did not sign', async () => {
    const { id, key } = await enroll();
    const { client, paths, nonces } = countingClient(gateway.url);
    nonces.keep(gateway.url, id, { nonce: 'x'.repeat(43), expiresAt: new Date(Date.now() + 5_000).toISOString() });
    await client.checkin(key, clientBody(id));
    expect(paths).toEqual(['/v1/nonce', '/v1/checkin']);
    const stranger = pinnedAnswerKey(generateDeviceKey('ecdsa-p256-sha256').publicKeyPem);
    await expect(client.checkin(key, clientBody(id), stranger)).rejects.toMatchObject({ code: 'GATEWAY_ANSWER_BAD_SIGNATURE' });
    expect(nonces.take(gateway.url, id)).toBeUndefined();
  });
});
