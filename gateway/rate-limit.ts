// Token buckets per key (a device id, a remote address): each key may spend `burst` requests at
// once and gets `perSecond` back over time; an empty bucket answers with the seconds until the
// next token. Pure apart from the clock it is handed; memory is bounded by evicting the keys
// seen least recently (an attacker cycling addresses costs buckets, never unbounded memory).

export interface RateLimit {
  perSecond: number;
  burst: number;
}

export type Take = { ok: true } | { ok: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly limit: RateLimit,
    private readonly maxKeys = 100_000,
  ) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) throw new RangeError('a rate limit needs perSecond > 0 and burst ≥ 1');
  }

  take(key: string, nowMs: number): Take {
    const bucket = this.buckets.get(key) ?? { tokens: this.limit.burst, at: nowMs };
    const tokens = Math.min(this.limit.burst, bucket.tokens + (Math.max(0, nowMs - bucket.at) / 1000) * this.limit.perSecond);
    // Re-inserting keeps the Map in least-recently-seen order for eviction.
    this.buckets.delete(key);
    if (tokens < 1) {
      this.buckets.set(key, { tokens, at: nowMs });
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / this.limit.perSecond)) };
    }
    this.buckets.set(key, { tokens: tokens - 1, at: nowMs });
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    return { ok: true };
  }

  get size(): number {
    return this.buckets.size;
  }
}

/** The gateway's limits: per remote address on every device endpoint, per device id on nonces and on certificate requests. */
export interface GatewayRateLimits {
  perAddress: RateLimit;
  perDeviceNonce: RateLimit;
  /** POST /v1/certificates (issuance and renewals) and its nonce, per device; default DEFAULT_CERTIFICATE_RATE_LIMIT. */
  perDeviceCertificate?: RateLimit;
}

/**
 * A device renews once per 16 h (2/3 of 24 h), a quarantined one about every 40 min, each renewal a
 * nonce and a request: a burst of 10 and one back every 5 minutes never slows an honest device and
 * stops one that asks the CA to sign in a loop.
 */
export const DEFAULT_CERTIFICATE_RATE_LIMIT: RateLimit = { perSecond: 1 / 300, burst: 10 };

/**
 * Defaults: a device needs two or three nonces per check-in round, so 5/s with a burst of 20 never
 * slows an honest one; addresses are shared behind NAT (a site of gateways, the simulator on
 * loopback), so their limit is high and only stops floods (the 1,000 nonces in 5.5 s from one client).
 */
export const DEFAULT_RATE_LIMITS: GatewayRateLimits = {
  perAddress: { perSecond: 2_000, burst: 4_000 },
  perDeviceNonce: { perSecond: 5, burst: 20 },
  perDeviceCertificate: DEFAULT_CERTIFICATE_RATE_LIMIT,
};
