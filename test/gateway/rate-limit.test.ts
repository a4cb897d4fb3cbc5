// Rate limits at the device API: token buckets (pure) and a real gateway over HTTP that answers a
// flood with 429 and Retry-After, per device on nonces and per address on every endpoint.
import { describe, expect, it } from 'vitest';
import { DEFAULT_RATE_LIMITS, RateLimiter } from '../../gateway/rate-limit.js';
import { generateDeviceKey } from '../../schemas/device-envelope.js';
import { useTempGateway } from '../support/temp-gateway.js';
import { preauthorizeAndEnroll } from '../support/admission.js';

describe('RateLimiter', () => {
  it('spends the burst, then refills at the rate, each key on its own', () => {
    const limiter = new RateLimiter({ perSecond: 2, burst: 3 });
    const t0 = 1_000_000;
    expect([1, 2, 3].map(() => limiter.take('a', t0).ok)).toEqual([true, true, true]);
    expect(limiter.take('a', t0)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(limiter.take('b', t0).ok).toBe(true);
    // Half a second gives one token back (2 per second), not more.
    expect(limiter.take('a', t0 + 500).ok).toBe(true);
    expect(limiter.take('a', t0 + 500).ok).toBe(false);
    // Never more than the burst after a long pause.
    expect([1, 2, 3, 4].map(() => limiter.take('a', t0 + 3_600_000).ok)).toEqual([true, true, true, false]);
  });

  it('keeps memory bounded: the keys seen least recently go first', () => {
    const limiter = new RateLimiter({ perSecond: 1, burst: 1 }, 100);
    for (let i = 0; i < 10_000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`, 0);
    expect(limiter.size).toBe(100);
    expect(() => new RateLimiter({ perSecond: 0, burst: 1 })).toThrow(/perSecond > 0/);
  });

  it('defaults never slow an honest device (a few nonces per round)', () => {
    expect(DEFAULT_RATE_LIMITS.perDeviceNonce.burst).toBeGreaterThanOrEqual(10);
  });
});

describe('a gateway under a flood', () => {
  const env = useTempGateway('ota-rate-limit-', { rateLimits: { perAddress: { perSecond: 5, burst: 60 }, perDeviceNonce: { perSecond: 1, burst: 5 } } });

  it('answers 429 with Retry-After, per device on nonces and per address on everything, and changes nothing', async () => {
    const enroll = (id: string) => preauthorizeAndEnroll(env.gateway.url, env.fleet, { id, hardwareId: 'gw-rl', key: generateDeviceKey('ed25519') });
    await enroll('rl-1');
    await enroll('rl-2');
    const nonce = (id: string) => fetch(`${env.gateway.url}/v1/nonce?device=${id}`);
    const first = await Promise.all(Array.from({ length: 8 }, () => nonce('rl-1')));
    expect(first.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    const limited = first[7]!;
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await limited.json()).toMatchObject({ error: 'rate-limited' });
    // Another device from the same address still gets its nonces.
    expect((await nonce('rl-2')).status).toBe(200);
    const { rows } = await env.fleet.db.query<{ n: number | string }>('SELECT count(*) AS n FROM nonces WHERE device_id = $1', ['rl-1']);
    expect(Number(rows[0]!.n)).toBe(5);
    // The address as a whole: a flood of anything runs into its limit.
    const flood = await Promise.all(Array.from({ length: 80 }, (_, i) => nonce(`rl-unknown-${i}`)));
    expect(flood.filter((r) => r.status === 429).length).toBeGreaterThan(0);
    expect(flood.every((r) => r.status === 429 || r.status === 403)).toBe(true);
    // healthz is not limited.
    expect((await fetch(`${env.gateway.url}/healthz`)).status).toBe(200);
  });
});
