// Attack class: compromise of the online key alone (snapshot and timestamp; Uptane: compromise of the
// timestamp key). The thief can sign fresh timestamps and snapshots, and targets metadata of their own
// listing their release and themselves as its signer, but the targets role is not theirs: the device
// refuses that targets (TUF_THRESHOLD_NOT_MET) and changes nothing; what the real targets lists still installs.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { manifestKey } from '../../release/layout.js';
import { generateSigningKeyPem, signingKeyFromPem } from '../../signing/keys.js';
import { addSigner, addTarget, refreshOnline } from '../../trust/repository.js';
import { tufPublicKey } from '../../trust/tuf-keys.js';
import { DEVICE_HARDWARE } from '../support/device-releases.js';
import { writeMetadataFiles } from '../support/fleet-tuf.js';
import { installFrom, refused, resignManifest, useTufAttackBench } from '../support/tuf-attack.js';

const bench = useTufAttackBench('timestamp-key');

describe('attack: compromise of the online (timestamp and snapshot) key', () => {
  it('targets of the thief, signed with the online key, listing their own release and signer: TUF_THRESHOLD_NOT_MET, nothing changes', async () => {
    const { bundle, tuf, sim } = await bench().fleet('online-key');
    const legit = await tuf.read();

    // The thief's release: 1.0.1 with a higher security version, signed with a key of their own.
    const thiefKey = signingKeyFromPem(generateSigningKeyPem());
    const thief = tufPublicKey(thiefKey.publicKey);
    const path = manifestKey(DEVICE_HARDWARE, '1.0.1');
    const bytes = await resignManifest(bundle, '1.0.1', thiefKey, (m) => ({ ...m, securityVersion: 9 }));

    // Everything the online key can sign: targets (as if it were the targets key), snapshot, timestamp.
    const asThief = { targetsKeys: [tuf.keys.online], onlineKey: tuf.keys.online, now: new Date() };
    const forged = addTarget(addSigner(legit, thief, asThief), { path, length: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), signerKeyID: thief.keyID }, asThief);
    await writeMetadataFiles(bundle, forged);

    const result = await refused(sim, () => installFrom(sim, bundle));
    expect(result.code).toBe('TUF_THRESHOLD_NOT_MET');
    expect(result.message).toMatch(/targets version \d+ is not signed by the threshold of root 1/);
    expect(result.after).toEqual(result.before);
    expect(result.after.trust).toBe('absent');
  });

  it('a fresh timestamp and snapshot over the real targets cannot bring in a release the targets do not list: TUF_TARGET_MISMATCH', async () => {
    const { bundle, tuf, sim } = await bench().fleet('online-key-fresh');
    await resignManifest(bundle, '1.0.1', signingKeyFromPem(generateSigningKeyPem()), (m) => ({ ...m, securityVersion: 9 }));
    // What the online key alone signs: newer snapshot and timestamp versions, the targets untouched.
    await writeMetadataFiles(bundle, refreshOnline(await tuf.read(), { onlineKey: tuf.keys.online, now: new Date() }));
    const result = await refused(sim, () => installFrom(sim, bundle));
    expect(result.code).toBe('TUF_TARGET_MISMATCH');
    expect(result.after).toEqual(result.before);
  });
});
