// Attack class: mix-and-match (TUF "mix-and-match attack"). Each piece is genuine, signed by the
// pinned key, but from another release: 1.0.1's manifest with 1.0.0's signature, or 1.0.0's image
// served where 1.0.1's belongs. The signature binds the manifest's bytes and the manifest pins
// each artifact's digest and length, so both are refused with nothing changed.
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manifestBundleKey } from '../../release/layout.js';
import { installFromBundle, refusal, useAttackBench } from '../support/attack-device.js';
import { DEVICE_HARDWARE } from '../support/device-releases.js';

const bench = useAttackBench('mix');

describe('attack: mix-and-match', () => {
  it("1.0.1's manifest with 1.0.0's (valid) signature bundle: TAMPERED_MANIFEST", async () => {
    const sim = await bench().device();
    const bundle = await bench().bundleCopy('mixed-signature');
    await copyFile(join(bundle, manifestBundleKey(DEVICE_HARDWARE, '1.0.0')), join(bundle, manifestBundleKey(DEVICE_HARDWARE, '1.0.1')));
    const result = await refusal(sim, () => installFromBundle(sim, bundle));
    expect(result.code).toBe('TAMPERED_MANIFEST');
    expect(result.after).toEqual(result.before);
  });

  it("1.0.0's genuine image served as 1.0.1's: ARTIFACT_MISMATCH", async () => {
    const sim = await bench().device();
    const bundle = await bench().bundleCopy('mixed-image');
    const { releases } = bench().fixture;
    await copyFile(join(bundle, releases['1.0.0']!.manifest.image.location), join(bundle, releases['1.0.1']!.manifest.image.location));
    const result = await refusal(sim, () => installFromBundle(sim, bundle, { full: true }));
    expect(result.code).toBe('ARTIFACT_MISMATCH');
    expect(result.after).toEqual(result.before);
  });
});
