// Attack class: wrong channel. A release correctly signed for `beta` is handed (offline bundle,
// folder or tar) to a device that follows `stable`: WRONG_CHANNEL, nothing changed, nothing kept in scratch.
import { spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installFromBundle, refusal, useAttackBench } from '../support/attack-device.js';

const bench = useAttackBench('channel');

describe('attack: wrong channel', () => {
  it('a correctly signed beta release is refused by a device on stable, from a folder and from a tar', async () => {
    const sim = await bench().device();
    expect(sim.config.channel).toBe('stable');
    // 1.0.1 as the pipeline would have signed it for beta: same artifacts, channel "beta", the pinned key.
    const bundle = await bench().resigned('beta', '1.0.1', (m) => ({ ...m, channel: 'beta' }));
    const folder = await refusal(sim, () => installFromBundle(sim, bundle));
    expect(folder).toMatchObject({ code: 'WRONG_CHANNEL', message: 'release 1.0.1 is on channel beta, this device follows stable' });
    expect(folder.after).toEqual(folder.before);

    const tar = join(bench().root, 'beta.tar');
    expect(spawnSync('tar', ['-cf', tar, '-C', bundle, '.']).status).toBe(0);
    const fromTar = await refusal(sim, () => installFromBundle(sim, tar));
    expect(fromTar.code).toBe('WRONG_CHANNEL');
    expect(fromTar.after).toEqual(folder.before);
    expect(fromTar.after.securityVersion).toBe(1);
    expect(await readdir(join(sim.config.stateDir, 'scratch'))).toEqual([]);
  });
});
