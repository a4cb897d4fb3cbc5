// The gateway client against a real local HTTP server: pollAfterSeconds is held to a sane range,
// and an answer that is not the device API is GATEWAY_ANSWER_MALFORMED. (Endless and slow answers:
// test/attacks/endless-data.test.ts and slow-retrieval.test.ts.)
import { afterEach, describe, expect, it } from 'vitest';
import { clampPollAfterSeconds, GatewayClient, POLL_AFTER_LIMITS } from '../../../device-client/gateway/gateway-client.js';
import { generateDeviceKey } from '../../../schemas/device-envelope.js';
import { startHostileGateway, type HostileAnswer, type HostileGateway } from '../../support/hostile-gateway.js';

let gateway: HostileGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

const checkinBody = {
  type: 'checkin' as const,
  deviceId: 'dev-1',
  hardwareId: 'edge-gw-dev1',
  currentVersion: '1.0.0',
  imageSha256: 'a'.repeat(64),
  bootedSlot: 'A' as const,
  securityVersion: 1,
  supportedDeltaFormats: ['ops'],
};

async function checkinAnswered(how: HostileAnswer) {
  gateway = await startHostileGateway((path) => (path === '/v1/checkin' ? how : undefined));
  return new GatewayClient(gateway.url, { timeoutMs: 5_000 }).checkin(generateDeviceKey('ed25519'), checkinBody);
}

describe('gateway answers: pollAfterSeconds and malformed answers', () => {
  it('clampPollAfterSeconds holds any number to [1 s, 7 days]', () => {
    expect(clampPollAfterSeconds(30)).toBe(30);
    expect(clampPollAfterSeconds(30 * 86_400)).toBe(POLL_AFTER_LIMITS.maxSeconds);
    expect(clampPollAfterSeconds(0)).toBe(1);
    expect(clampPollAfterSeconds(-5)).toBe(1);
    expect(clampPollAfterSeconds(Number.POSITIVE_INFINITY)).toBe(POLL_AFTER_LIMITS.maxSeconds);
    expect(clampPollAfterSeconds(Number.NaN)).toBe(POLL_AFTER_LIMITS.maxSeconds);
    // The longest wait with the largest jitter (x2) still fits a Node timer (2^31 - 1 ms).
    expect(POLL_AFTER_LIMITS.maxSeconds * 1000 * 2).toBeLessThan(2 ** 31 - 1);
  });

  it('a check-in answer of 30 days comes back as 7 days; a normal one unchanged', async () => {
    expect(await checkinAnswered({ json: { action: 'none', pollAfterSeconds: 30 * 86_400 } })).toEqual({ action: 'none', pollAfterSeconds: 7 * 86_400 });
    await gateway?.close();
    expect(await checkinAnswered({ json: { action: 'hold', reason: 'ring closed', pollAfterSeconds: 120 } })).toMatchObject({ action: 'hold', pollAfterSeconds: 120 });
  });

  it('not JSON, or not the device API: GATEWAY_ANSWER_MALFORMED', async () => {
    await expect(checkinAnswered('not-json')).rejects.toMatchObject({ code: 'GATEWAY_ANSWER_MALFORMED' });
    await gateway?.close();
    await expect(checkinAnswered({ json: { action: 'update', pollAfterSeconds: 60 } })).rejects.toMatchObject({ code: 'GATEWAY_ANSWER_MALFORMED' });
  });
});
