import { describe, expect, it } from 'vitest';
import { DeviceKeyCache } from '../../gateway/device-key-cache.js';
import { generateDeviceKey, signPayload, verifyEnvelope } from '../../schemas/device-envelope.js';

describe('device key cache', () => {
  it('parses a device key once and serves the same KeyObject while the enrolled PEM is the same', () => {
    const cache = new DeviceKeyCache();
    const key = generateDeviceKey('ecdsa-p256-sha256');
    const first = cache.keyFor('dev-1', key.publicKeyPem);
    expect(cache.keyFor('dev-1', key.publicKeyPem)).toBe(first);
    expect(first.export({ type: 'spki', format: 'pem' })).toBe(key.publicKeyPem);
  });

  it('misses on a re-keyed device: the row PEM on this request decides, never the cached one', () => {
    const cache = new DeviceKeyCache();
    const [old, renewed] = [generateDeviceKey('ecdsa-p256-sha256'), generateDeviceKey('ed25519')];
    cache.keyFor('dev-1', old.publicKeyPem);
    const now = cache.keyFor('dev-1', renewed.publicKeyPem);
    expect(now.asymmetricKeyType).toBe('ed25519');
    // A message signed by the old key does not verify against the new enrolment, cache or not.
    const envelope = signPayload({ hello: 1 }, old);
    expect(verifyEnvelope(envelope, { publicKeyPem: renewed.publicKeyPem, keyAlgorithm: 'ecdsa-p256-sha256' }, () => cache.keyFor('dev-1', renewed.publicKeyPem))).toBe(false);
    expect(verifyEnvelope(envelope, { publicKeyPem: old.publicKeyPem, keyAlgorithm: 'ecdsa-p256-sha256' }, () => cache.keyFor('dev-1', old.publicKeyPem))).toBe(true);
    expect(cache.size).toBe(1);
  });

  it('stays within its bound, dropping the oldest device first', () => {
    const cache = new DeviceKeyCache(2);
    const keys = [1, 2, 3].map(() => generateDeviceKey('ed25519'));
    const a = cache.keyFor('a', keys[0]!.publicKeyPem);
    cache.keyFor('b', keys[1]!.publicKeyPem);
    cache.keyFor('c', keys[2]!.publicKeyPem);
    expect(cache.size).toBe(2);
    expect(cache.keyFor('a', keys[0]!.publicKeyPem)).not.toBe(a); // parsed again
  });

  it('does not cache a PEM that does not parse, and verifyEnvelope reports it as a bad signature', () => {
    const cache = new DeviceKeyCache();
    expect(() => cache.keyFor('dev-x', 'not a pem')).toThrow();
    expect(cache.size).toBe(0);
    const envelope = signPayload({ hello: 1 }, generateDeviceKey('ed25519'));
    expect(verifyEnvelope(envelope, { publicKeyPem: 'not a pem', keyAlgorithm: 'ed25519' }, () => cache.keyFor('dev-x', 'not a pem'))).toBe(false);
  });
});
