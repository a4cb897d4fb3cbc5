// Attack class: arbitrary software (TUF "arbitrary software installation"). An attacker in the
// path changes the image, a delta, the manifest or the evidence, or signs with a key the device
// does not pin. Each is refused with its own code before anything is written.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manifestKey } from '../../release/layout.js';
import { bundleToText } from '../../signing/bundle-json.js';
import { generateSigningKeyPem, signingKeyFromPem } from '../../signing/keys.js';
import { signBlob } from '../../signing/message-signature.js';
import { installFromBundle, refusal, useAttackBench } from '../support/attack-device.js';
import { DEVICE_HARDWARE } from '../support/device-releases.js';
import { manifestBundleKey } from '../../release/layout.js';

const bench = useAttackBench('arbitrary');

const release = () => bench().fixture.releases['1.0.1']!.manifest;

/** A copy of the store with one byte of `location` flipped. */
async function flipped(location: string): Promise<string> {
  const bundle = await bench().bundleCopy('tampered');
  const path = join(bundle, location);
  const bytes = await readFile(path);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  await writeFile(path, bytes);
  return bundle;
}

describe('attack: arbitrary software', () => {
  it.each([
    ['the delta', () => release().deltas[0]!.location, false],
    ['the compressed full image', () => release().image.location, true],
  ] as const)('tampered %s: ARTIFACT_MISMATCH, nothing changed', async (_what, locate, full) => {
    const sim = await bench().device();
    const bundle = await flipped(locate());
    const result = await refusal(sim, () => installFromBundle(sim, bundle, { full }));
    expect(result.code).toBe('ARTIFACT_MISMATCH');
    expect(result.after).toEqual(result.before);
    expect(result.after.journal).toBeNull();
  });

  it('a tampered manifest (one byte): TAMPERED_MANIFEST, nothing changed', async () => {
    const sim = await bench().device();
    const bundle = await bench().bundleCopy('manifest');
    const path = join(bundle, manifestKey(DEVICE_HARDWARE, '1.0.1'));
    await writeFile(path, (await readFile(path, 'utf8')).replace('"securityVersion":2', '"securityVersion":9'));
    const result = await refusal(sim, () => installFromBundle(sim, bundle));
    expect(result.code).toBe('TAMPERED_MANIFEST');
    expect(result.after).toEqual(result.before);
  });

  it('a manifest signed by a key the device does not pin: WRONG_SIGNER, nothing changed', async () => {
    const sim = await bench().device();
    const bundle = await bench().bundleCopy('stranger');
    const bytes = await readFile(join(bundle, manifestKey(DEVICE_HARDWARE, '1.0.1')));
    const stranger = signingKeyFromPem(generateSigningKeyPem());
    await writeFile(join(bundle, manifestBundleKey(DEVICE_HARDWARE, '1.0.1')), bundleToText(await signBlob({ bytes }, { mode: 'key', key: stranger })));
    const result = await refusal(sim, () => installFromBundle(sim, bundle));
    expect(result.code).toBe('WRONG_SIGNER');
    expect(result.after).toEqual(result.before);
  });

  it('the same with the pinned key removed from the trust root: WRONG_SIGNER', async () => {
    const sim = await bench().device();
    const rootDoc = JSON.parse(await readFile(sim.config.trust.trustedRootPath, 'utf8'));
    await writeFile(sim.config.trust.trustedRootPath, JSON.stringify({ ...rootDoc, pinnedKeys: {} }));
    const result = await refusal(sim, () => installFromBundle(sim, bench().fixture.storeDir));
    expect(result.code).toBe('WRONG_SIGNER');
    expect(result.after).toEqual(result.before);
  });

  it.each(['sbom', 'provenance'] as const)('a tampered %s carried in the bundle: ARTIFACT_MISMATCH, nothing changed', async (name) => {
    const sim = await bench().device();
    const bundle = await flipped(release()[name].location);
    const result = await refusal(sim, () => installFromBundle(sim, bundle));
    expect(result.code).toBe('ARTIFACT_MISMATCH');
    expect(result.message).toContain(name);
    expect(result.after).toEqual(result.before);
    // The untouched bundle installs, its evidence checked.
    const lines: string[] = [];
    await expect(installFromBundle(sim, bench().fixture.storeDir, { log: (l) => lines.push(l) })).resolves.toMatchObject({ outcome: 'installed', version: '1.0.1' });
    expect(lines).toContain("checked the release's sbom, vex, openvex, provenance against the manifest's digests");
  });
});
