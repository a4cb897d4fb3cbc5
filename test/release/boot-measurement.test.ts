// The expected boot measurement of a release: two extends from a zero PCR, pinned against a value
// computed by hand, and different for any change of image, version or hardware.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bootConfigDocument, bootEvents, expectedBootPcr, extendPcr } from '../../release/boot-measurement.js';
import { canonicalJsonBytes } from '../../schemas/manifest.js';

const release = { hardwareId: 'rpi4-64', version: '1.2.0', imageSha256: 'ab'.repeat(32) };
const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();

describe('expected boot measurement', () => {
  it('is sha256(sha256(0^32 || image) || config) with the config as canonical JSON', () => {
    const config = sha(Buffer.from(canonicalJsonBytes(bootConfigDocument(release))));
    const byHand = sha(sha(Buffer.alloc(32), Buffer.from(release.imageSha256, 'hex')), config).toString('hex');
    expect(bootEvents(release)).toEqual([release.imageSha256, config.toString('hex')]);
    expect(expectedBootPcr(release)).toBe(byHand);
    expect(extendPcr('00'.repeat(32), release.imageSha256)).toBe(sha(Buffer.alloc(32), Buffer.from(release.imageSha256, 'hex')).toString('hex'));
  });

  it('changes with the image, the version and the hardware', () => {
    const base = expectedBootPcr(release);
    expect(expectedBootPcr({ ...release, imageSha256: 'ac'.repeat(32) })).not.toBe(base);
    expect(expectedBootPcr({ ...release, version: '1.2.1' })).not.toBe(base);
    expect(expectedBootPcr({ ...release, hardwareId: 'rpi5-64' })).not.toBe(base);
  });
});
