// Which answer keys and fleet CA roots a device trusts (device-client/agent/trust-precedence.ts): the
// list of its last verified TUF walk wins over the provisioned pins on a device with a TUF root; a device
// without one, or whose targets list nothing, keeps its pins.
import { describe, expect, it } from 'vitest';
import { pinnedAnswerKey } from '../../../device-client/gateway/answer-verification.js';
import { answerKeysToTrust, fleetRootsToTrust } from '../../../device-client/agent/trust-precedence.js';
import { generateDeviceKey } from '../../../schemas/device-envelope.js';

const [pinKey, oldKey, newKey] = Array.from({ length: 3 }, () => generateDeviceKey('ecdsa-p256-sha256').publicKeyPem);
const pinned = pinnedAnswerKey(pinKey!);
const listed = { targetsVersion: 7, answerKeys: [oldKey!, newKey!], fleetCaRoots: ['ROOT-OLD', 'ROOT-NEW'] };

describe('answer keys a device trusts', () => {
  it('a device with a TUF root and a verified list uses the list, every listed key, and not the pin', () => {
    const keys = answerKeysToTrust({ tufRoot: true, listed, pinned });
    expect(keys).toEqual({ listed: [pinnedAnswerKey(oldKey!), pinnedAnswerKey(newKey!)], targetsVersion: 7 });
  });

  it('keeps the pin without a TUF root (a list there is ignored), or without a list; none pinned: undefined', () => {
    expect(answerKeysToTrust({ tufRoot: false, listed, pinned })).toBe(pinned);
    expect(answerKeysToTrust({ tufRoot: true, pinned })).toBe(pinned);
    expect(answerKeysToTrust({ tufRoot: false })).toBeUndefined();
    expect(answerKeysToTrust({ tufRoot: true, listed })).toMatchObject({ targetsVersion: 7 });
  });
});

describe('fleet CA roots a device trusts', () => {
  it('the listed roots (both while a rotation overlaps) in place of the pinned file', () => {
    expect(fleetRootsToTrust({ tufRoot: true, listed, pinned: 'ROOT-PINNED' })).toEqual({ roots: ['ROOT-OLD', 'ROOT-NEW'], from: 'tuf', targetsVersion: 7 });
    expect(fleetRootsToTrust({ tufRoot: true, listed: { ...listed, fleetCaRoots: ['ROOT-NEW'] }, pinned: 'ROOT-OLD' })).toEqual({ roots: ['ROOT-NEW'], from: 'tuf', targetsVersion: 7 });
  });

  it('the pinned file without a TUF root, without a list, or when the list names no roots; neither: undefined', () => {
    const pin = { roots: ['ROOT-PINNED'], from: 'pinned' };
    expect(fleetRootsToTrust({ tufRoot: false, listed, pinned: 'ROOT-PINNED' })).toEqual(pin);
    expect(fleetRootsToTrust({ tufRoot: true, pinned: 'ROOT-PINNED' })).toEqual(pin);
    expect(fleetRootsToTrust({ tufRoot: true, listed: { ...listed, fleetCaRoots: [] }, pinned: 'ROOT-PINNED' })).toEqual(pin);
    expect(fleetRootsToTrust({ tufRoot: true, listed: { ...listed, fleetCaRoots: [] } })).toBeUndefined();
    expect(fleetRootsToTrust({ tufRoot: false })).toBeUndefined();
  });
});
