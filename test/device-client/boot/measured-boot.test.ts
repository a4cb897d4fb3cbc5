// The A/B boot path's measurement in a real (software) TPM equals what the release pipeline
// predicts for the release; a slot whose bytes were changed measures differently.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { measureBoot } from '../../../device-client/boot/measured-boot.js';
import { SlotDevice } from '../../../device-client/slots/slot-device.js';
import { readPcr } from '../../../device-client/tpm/tpm-pcr.js';
import { expectedBootPcr } from '../../../release/boot-measurement.js';
import { swtpmAvailable, useSoftwareTpm } from '../../support/swtpm.js';

describe.skipIf(!swtpmAvailable('measured boot'))('measured boot (swtpm)', () => {
  const env = useSoftwareTpm('measured-boot-');

  it('extends the slot image and boot config into the PCR: the value the manifest lists; a tampered slot differs', async () => {
    const { dir, tpm } = env;
    const image = Buffer.alloc(10_000, 7);
    const slotPath = join(dir, 'slot-a.img');
    await writeFile(slotPath, Buffer.concat([image, Buffer.alloc(4096, 0xa5)])); // a slot is longer than its image
    const slot = new SlotDevice('A', slotPath, {});
    const booted = { hardwareId: 'rpi4-64', version: '1.0.0', length: image.length };
    const measured = await measureBoot(tpm, 16, slot, booted);
    const expected = expectedBootPcr({ hardwareId: 'rpi4-64', version: '1.0.0', imageSha256: createHash('sha256').update(image).digest('hex') });
    expect(measured.imageSha256).toBe(createHash('sha256').update(image).digest('hex'));
    expect(await readPcr(tpm, 16)).toBe(expected);

    image[100] ^= 1;
    await writeFile(slotPath, image);
    await measureBoot(tpm, 16, slot, booted);
    expect(await readPcr(tpm, 16)).not.toBe(expected);
  });
});
