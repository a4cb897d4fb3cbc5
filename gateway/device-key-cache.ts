// Parsed device public keys, shared across requests: parsing the enrolled PEM on every signed
// request was two thirds of signature checking. Keyed by device id and checked against the PEM the
// fleet store's row holds on this request, so the row stays the authority: a re-keyed device misses
// (its PEM differs) and a revoked one is refused from its row before its key is looked up. Bounded:
// the oldest entry goes first when full.
import { createPublicKey, type KeyObject } from 'node:crypto';

export const DEFAULT_KEY_CACHE_ENTRIES = 100_000;

export class DeviceKeyCache {
  private readonly keys = new Map<string, { pem: string; key: KeyObject }>();

  constructor(private readonly maxEntries = DEFAULT_KEY_CACHE_ENTRIES) {}

  /** The KeyObject of this device's enrolled PEM; throws as createPublicKey does on a bad PEM (never cached). */
  keyFor(deviceId: string, publicKeyPem: string): KeyObject {
    const hit = this.keys.get(deviceId);
    if (hit && hit.pem === publicKeyPem) return hit.key;
    const key = createPublicKey(publicKeyPem);
    this.remember(deviceId, publicKeyPem, key);
    return key;
  }

  /** Keeps a key parsed elsewhere (at enrollment): OpenSSL 3 makes every public-key decode costly. */
  remember(deviceId: string, publicKeyPem: string, key: KeyObject): void {
    this.keys.delete(deviceId);
    if (this.keys.size >= this.maxEntries) this.keys.delete(this.keys.keys().next().value!);
    this.keys.set(deviceId, { pem: publicKeyPem, key });
  }

  get size(): number {
    return this.keys.size;
  }
}
