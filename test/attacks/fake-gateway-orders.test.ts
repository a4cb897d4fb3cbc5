// Attack class: a fake gateway giving orders (issue 14, item 4). A device running 1.0.1 on slot B,
// 1.0.0 committed on slot A (same security version, so a switch back is possible): a server in the
// path answers its check-in with an unsigned `rollback` order, with a correctly signed answer
// recorded for another check-in (replay), one signed for another device, and one signed by a key
// the device does not pin. With the gateway answer key pinned each is refused with its own code and
// nothing changes (slots, boot state, agent state, floor, trust root); the real gateway's signed
// answer is acted on. Without a pin the unsigned order still works: the attack is real.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootCheck } from '../../device-client/agent/boot-check.js';
import { checkInOnce, type AgentOptions } from '../../device-client/agent/checkin.js';
import { enrollDevice } from '../../device-client/agent/enroll.js';
import { rollBack } from '../../device-client/agent/rollback.js';
import { deviceStatus } from '../../device-client/agent/status.js';
import { signCheckinAnswer } from '../../gateway/answer-signing.js';
import type { CheckinResponse } from '../../schemas/device-api.js';
import { envelopePayloadBytes, generateDeviceKey, type DeviceKey } from '../../schemas/device-envelope.js';
import { AttackBench, installFromBundle } from '../support/attack-device.js';
import { DEVICE_HARDWARE } from '../support/device-releases.js';
import { startTestGateway } from '../support/device-gateway.js';
import type { SimDevice } from '../support/device-sim.js';
import { deviceSnapshot } from '../support/device-state-snapshot.js';
import { sharedSampleReleases } from '../support/shared-releases.js';

let bench: AttackBench;
let answerKey: DeviceKey;
let pinPath: string;
const FAST: AgentOptions = { random: () => 0.5, metrics: async () => ({ bootCount: 1, metrics: { crashCount: 0, uptimeSeconds: 120, freeMemoryBytes: 64 << 20 }, custom: {} }) };

beforeAll(async () => {
  const root = await mkdtemp(join(tmpdir(), 'ota-attack-fake-gateway-'));
  bench = new AttackBench(root, await sharedSampleReleases([{ version: '1.0.0', securityVersion: 1 }, { version: '1.0.1', securityVersion: 1 }]));
  answerKey = generateDeviceKey('ecdsa-p256-sha256');
  pinPath = join(root, 'gateway-answer.pub');
  await writeFile(pinPath, answerKey.publicKeyPem);
}, 400_000);

afterAll(async () => {
  if (bench) await rm(bench.root, { recursive: true, force: true });
});

/** A device on 1.0.1 (slot B, committed) with 1.0.0 still committed on slot A. */
async function runningNewer(config: Record<string, unknown>): Promise<SimDevice> {
  const sim = await bench.device({ config });
  await expect(installFromBundle(sim, bench.fixture.storeDir)).resolves.toMatchObject({ outcome: 'installed', version: '1.0.1' });
  await sim.reboot();
  await expect(bootCheck(await sim.open())).resolves.toMatchObject({ outcome: 'committed', slot: 'B' });
  return sim;
}

const rollbackOrder = (): CheckinResponse => ({
  action: 'rollback',
  reason: 'fake gateway',
  targetVersion: '1.0.0',
  targetImageSha256: bench.fixture.releases['1.0.0']!.sha256,
  pollAfterSeconds: 60,
});

type Answer = (checkin: { deviceId: string; nonce: string }) => unknown;

/** A small node:http server that hands out nonces and answers every check-in with `answer`. */
async function fakeGateway(answer: Answer) {
  const server = createServer(async (req: IncomingMessage, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (path === '/v1/nonce') return send(200, { nonce: randomBytes(32).toString('base64url'), expiresAt: new Date(Date.now() + 60_000).toISOString() });
    if (path === '/v1/checkin') {
      const envelope = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      return send(200, answer(JSON.parse(envelopePayloadBytes(envelope).toString('utf8'))));
    }
    send(404, { error: 'not-found', detail: path });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const otherNonce = () => randomBytes(32).toString('base64url');

describe('attack: fake gateway orders', () => {
  it('without a pinned answer key an unsigned rollback order is obeyed (the attack), and status warns', async () => {
    const fake = await fakeGateway(() => rollbackOrder());
    try {
      const sim = await runningNewer({ gatewayUrl: fake.url });
      const round = await checkInOnce(await sim.open(), FAST);
      expect(round).toMatchObject({ outcome: 'rolled-back', rollback: { outcome: 'switched', slot: 'A', version: '1.0.0' } });
      expect((await deviceStatus(await sim.open())).gatewayAnswers).toMatchObject({ pinned: false, warning: expect.stringContaining('unsigned check-in answers are accepted') });
    } finally {
      await fake.close();
    }
  });

  const attacks: Array<[string, string, Answer]> = [
    ['an unsigned rollback order', 'GATEWAY_ANSWER_UNSIGNED', () => rollbackOrder()],
    ['a rollback order signed by a key the device does not pin', 'GATEWAY_ANSWER_BAD_SIGNATURE', (c) => signCheckinAnswer(generateDeviceKey('ecdsa-p256-sha256'), rollbackOrder(), c)],
    ['a signed rollback order recorded for another check-in (replay)', 'GATEWAY_ANSWER_REPLAYED', (c) => signCheckinAnswer(answerKey, rollbackOrder(), { ...c, nonce: otherNonce() })],
    ["a signed rollback order for another device", 'GATEWAY_ANSWER_MISBOUND', (c) => signCheckinAnswer(answerKey, rollbackOrder(), { ...c, deviceId: 'another-device' })],
    [
      'a signed "none" with a rollback order beside it in the unsigned fields',
      'none-acted-on',
      (c) => ({ ...signCheckinAnswer(answerKey, { action: 'none', pollAfterSeconds: 60 }, c), ...rollbackOrder() }),
    ],
  ];

  for (const [what, code, answer] of attacks) {
    it(`${what}: ${code}, no state change`, async () => {
      const fake = await fakeGateway(answer);
      try {
        const sim = await runningNewer({ gatewayUrl: fake.url, gatewayAnswerKeyPath: pinPath });
        const before = await deviceSnapshot(sim);
        const round = await checkInOnce(await sim.open(), FAST);
        if (code === 'none-acted-on') {
          // Only the signed copy counts: the unsigned fields beside it are not read.
          expect(round).toMatchObject({ outcome: 'nothing', response: { action: 'none' } });
        } else {
          expect(round).toMatchObject({ outcome: 'offline', errorCode: code, reports: { skipped: expect.any(String) } });
          expect(round.response).toBeUndefined();
        }
        expect(await deviceSnapshot(sim)).toEqual(before);
        expect(await sim.bootedSlot()).toBe('B');
      } finally {
        await fake.close();
      }
    });
  }

  it("the real gateway's signed rollback order is accepted by a pinning device", async () => {
    const gw = await startTestGateway(join(bench.root, 'gw'), bench.fixture.storeDir, { answerKey });
    try {
      const sim = await runningNewer({ gatewayUrl: gw.url, gatewayAnswerKeyPath: pinPath });
      await enrollDevice(sim.config, { token: await gw.tokenFor(sim.config.deviceId) });
      expect((await deviceStatus(await sim.open())).gatewayAnswers).toEqual({ pinned: true, keyPath: pinPath });
      await gw.fleet.createRollout({ id: 'r-back', hardwareId: DEVICE_HARDWARE, channel: 'stable', releaseVersion: '1.0.1', previousVersion: '1.0.0' });
      await gw.fleet.assignDevices('r-back', [{ deviceId: sim.config.deviceId, ring: 'canary' }]);
      await gw.fleet.setAssignmentAction('r-back', 'rollback', { reason: 'ring canary breached' });
      const started = performance.now();
      const round = await checkInOnce(await sim.open(), FAST);
      expect(round).toMatchObject({ outcome: 'rolled-back', rollback: { outcome: 'switched', slot: 'A', version: '1.0.0' }, response: { action: 'rollback', rolloutId: 'r-back' } });
      expect(round.errorCode).toBeUndefined();
      console.log(`signed check-in round against the real gateway: ${(performance.now() - started).toFixed(0)} ms`);
    } finally {
      await gw.close();
    }
  });

  it('a rollback by slot goes only to a slot committed on this device: ROLLBACK_TARGET_NOT_COMMITTED', async () => {
    const sim = await bench.device();
    await expect(installFromBundle(sim, bench.fixture.storeDir)).resolves.toMatchObject({ outcome: 'installed', version: '1.0.1' });
    // Slot B holds 1.0.1, verified, but never booted and committed: not a way "back".
    const before = await deviceSnapshot(sim);
    const target = { version: '1.0.1', imageSha256: bench.fixture.releases['1.0.1']!.sha256, reason: 'fake' };
    await expect(rollBack(await sim.open(), target, undefined)).rejects.toMatchObject({ code: 'ROLLBACK_TARGET_NOT_COMMITTED' });
    expect(await deviceSnapshot(sim)).toEqual(before);
  });
});
