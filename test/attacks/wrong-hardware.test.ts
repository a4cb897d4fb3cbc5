// Attack class: wrong hardware (Uptane "wrong software installation" across ECU types). A release
// correctly signed for another hardware id is put where this device looks for its own: WRONG_HARDWARE,
// nothing changed.
import { describe, expect, it } from 'vitest';
import { installFromBundle, refusal, useAttackBench } from '../support/attack-device.js';

const bench = useAttackBench('hardware');

describe('attack: wrong hardware', () => {
  it("another product line's release, signed by the pinned key, under this device's path: WRONG_HARDWARE", async () => {
    const sim = await bench().device();
    const bundle = await bench().resigned('other-hw', '1.0.1', (m) => ({ ...m, hardwareId: 'edge-gw-other' }));
    const result = await refusal(sim, () => installFromBundle(sim, bundle));
    expect(result).toMatchObject({ code: 'WRONG_HARDWARE', message: 'manifest is for hardware edge-gw-other, this device is edge-gw-dev1' });
    expect(result.after).toEqual(result.before);
  });
});
