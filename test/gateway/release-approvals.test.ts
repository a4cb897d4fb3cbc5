// Two-person releases end to end, on real signed releases and a real repository: a channel that requires
// two release signers; until the second approves, the gateway does not offer the release and a device
// refuses it offline (TUF_THRESHOLD_NOT_MET, nothing changed); after `approveRelease` both go ahead.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkInOnce } from '../../device-client/agent/checkin.js';
import { enrollDevice } from '../../device-client/agent/enroll.js';
import { manifestKey } from '../../release/layout.js';
import { approveRelease, releaseSignatures, requireSignatures } from '../../trust/release-approvals.js';
import { addSigner } from '../../trust/repository.js';
import { startTestGateway } from '../support/device-gateway.js';
import { DEVICE_HARDWARE } from '../support/device-releases.js';
import { newTufKey } from '../support/fleet-tuf.js';
import { installFrom, refused, useTufAttackBench } from '../support/tuf-attack.js';

const bench = useTufAttackBench('two-person');

describe('two-person releases', () => {
  it('stable requires 2 signers: not offered and refused offline until a second signer approves', async () => {
    const { bundle, tuf, sim } = await bench().fleet('two-person');
    const engineer = newTufKey();
    await tuf.change((repo) => requireSignatures(addSigner(repo, engineer, tuf.signing()), 'stable', 2, tuf.signing()));

    const offline = await refused(sim, () => installFrom(sim, bundle));
    expect(offline.code).toBe('TUF_THRESHOLD_NOT_MET');
    expect(offline.message).toMatch(/has 1 of the 2 release signatures channel stable requires/);
    expect(offline.after).toEqual(offline.before);

    const gw = await startTestGateway(join(bench().root, 'gw'), bundle);
    try {
      const config = { ...sim.config, gatewayUrl: gw.url };
      await enrollDevice(config, { token: await gw.tokenFor(config.deviceId) });
      const device = { ...(await sim.open()), config };
      const waiting = await checkInOnce(device, { random: () => 0.5 });
      expect(waiting.response).toMatchObject({ action: 'none', reason: expect.stringMatching(/^not offered yet: .*1 of the 2 release signatures/) });

      const path = manifestKey(DEVICE_HARDWARE, '1.0.1');
      const bytes = await readFile(join(bundle, path));
      // The publisher cannot approve its own release; the engineer can.
      const current = await tuf.read();
      expect(() => approveRelease(current, path, bytes, tuf.keys.release, tuf.signing())).toThrow(/the approval must come from another release signer/);
      const approved = await tuf.change((repo) => approveRelease(repo, path, bytes, engineer, tuf.signing()));
      expect(releaseSignatures(approved.targets, path, bytes)).toEqual([tuf.keys.release.keyID, engineer.keyID]);

      const offered = await checkInOnce(device, { random: () => 0.5 });
      expect(offered).toMatchObject({ outcome: 'installed', install: { version: '1.0.1' } });
    } finally {
      await gw.close();
    }
  });
});
