// Attack class: a made-up keyless approval, listed in a release's target entry, to get a two-person
// release offered. Whoever signs the entry (the worker's release-publish key, or here the targets key
// standing in for it) can list anything under `keylessApprovals`; only a Sigstore bundle from the fleet's
// Fulcio, over exactly the manifest bytes, by a listed keyless signer, is an approval. The gateway
// verifies it offline against the fleet's Sigstore trust root before counting it (gateway/release-approvals.ts),
// as the device does: a forged approval leaves the release not offered and the device refuses it
// (TUF_THRESHOLD_NOT_MET, nothing changed); a real one gets it offered and installed. Mock Sigstore
// (Fulcio, Rekor, TSA) from test/support/signing-sigstore-mock.ts.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInOnce } from '../../device-client/agent/checkin.js';
import { enrollDevice } from '../../device-client/agent/enroll.js';
import { approvalsMissing } from '../../gateway/release-approvals.js';
import { manifestKey } from '../../release/layout.js';
import { bundleToText } from '../../signing/bundle-json.js';
import { identityTokenFromEnv } from '../../signing/keyless.js';
import { signBlob } from '../../signing/message-signature.js';
import { mergeTrustRoots, readTrustRoot, writeTrustRoot } from '../../signing/trust-root.js';
import { keylessSignerKey } from '../../trust/keyless-signers.js';
import { addKeylessApproval, requireSignatures } from '../../trust/release-approvals.js';
import { addSigner, updateEntry } from '../../trust/repository.js';
import { startTestGateway } from '../support/device-gateway.js';
import { DEVICE_HARDWARE } from '../support/device-releases.js';
import { fakeIdentityToken, startMockSigstore, type MockSigstore } from '../support/signing-sigstore-mock.js';
import { installFrom, refused, useTufAttackBench } from '../support/tuf-attack.js';

const GOOGLE = 'https://accounts.google.com';
const ENGINEER = 'release-engineer@acme.example';
const path = manifestKey(DEVICE_HARDWARE, '1.0.1');

const bench = useTufAttackBench('keyless-approval-gateway');
let sigstore: MockSigstore;
let otherFulcio: MockSigstore;

beforeAll(async () => {
  sigstore = await startMockSigstore({ name: 'fleet' });
  otherFulcio = await startMockSigstore({ name: 'elsewhere' });
});
afterAll(() => {
  otherFulcio?.stop();
  sigstore?.stop();
});

async function keylessBundle(bytes: Uint8Array, identity: string, through = sigstore): Promise<unknown> {
  const env = { CI_ID_TOKEN: fakeIdentityToken(identity, GOOGLE) };
  const mode = { mode: 'keyless' as const, fulcioURL: through.fulcioURL, rekorURL: through.rekorURL, tsaURL: through.tsaURL, identityProvider: identityTokenFromEnv('CI_ID_TOKEN', env) };
  return JSON.parse(bundleToText(await signBlob({ bytes }, mode)));
}

/** 1.0.1 published by the release key on a channel needing two signers; the release engineers' identity listed keyless. */
async function twoPersonFleet(name: string) {
  const fleet = await bench().fleet(name);
  const engineers = keylessSignerKey(GOOGLE, 'release-engineer@acme\\.example');
  await fleet.tuf.change((repo) => requireSignatures(addSigner(repo, engineers, fleet.tuf.signing()), 'stable', 2, fleet.tuf.signing()));
  const rootPath = fleet.sim.config.trust.trustedRootPath;
  await writeTrustRoot(rootPath, mergeTrustRoots(await readTrustRoot(rootPath), sigstore.trustRoot));
  return { ...fleet, engineers, bytes: await readFile(join(fleet.bundle, path)) };
}

describe('attack: a made-up keyless approval to get a two-person release offered', () => {
  it('listed approvals that do not verify (other bytes, another Fulcio, not a bundle) are not counted: not offered, and the device refuses (TUF_THRESHOLD_NOT_MET), nothing changes', async () => {
    const { bundle, tuf, sim, engineers, bytes } = await twoPersonFleet('forged');
    expect(await approvalsMissing(tuf.store, path, bytes, 'stable', sigstore.trustRoot)).toMatch(/^TUF_THRESHOLD_NOT_MET: .* has 1 of the 2 release signatures/);
    for (const forged of [await keylessBundle(Buffer.from('{}'), ENGINEER), await keylessBundle(bytes, ENGINEER, otherFulcio), { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }]) {
      // Listed straight into the entry by the key that signs it: what 'listed-only' counted before.
      await tuf.change((repo) => updateEntry(repo, path, (custom) => void (custom.keylessApprovals = { [engineers.keyID]: forged }), tuf.signing()));
      expect(await approvalsMissing(tuf.store, path, bytes, 'stable', sigstore.trustRoot)).toMatch(/^TUF_THRESHOLD_NOT_MET: .* has 1 of the 2 release signatures/);
      const result = await refused(sim, () => installFrom(sim, bundle));
      expect(result.code).toBe('TUF_THRESHOLD_NOT_MET');
      expect(result.after).toEqual(result.before);
    }
  });

  it('a real keyless approval verifies at the gateway: offered, and the device installs it; a gateway without the Sigstore root does not count it', async () => {
    const { bundle, tuf, sim, bytes } = await twoPersonFleet('real');
    const approval = await keylessBundle(bytes, ENGINEER);
    await tuf.change((repo) => addKeylessApproval(repo, path, bytes, approval, sigstore.trustRoot, tuf.signing()));
    expect(await approvalsMissing(tuf.store, path, bytes, 'stable', sigstore.trustRoot)).toBeUndefined();
    // Asked again for the same timestamp version: the verdict is remembered, not re-verified.
    expect(await approvalsMissing(tuf.store, path, bytes, 'stable', sigstore.trustRoot)).toBeUndefined();
    expect(await approvalsMissing(tuf.store, path, bytes, 'stable')).toMatch(/^TUF_THRESHOLD_NOT_MET/);
    expect(await approvalsMissing(tuf.store, path, bytes, 'stable', otherFulcio.trustRoot)).toMatch(/^TUF_THRESHOLD_NOT_MET/);
    await expect(installFrom(sim, bundle)).resolves.toMatchObject({ outcome: 'installed', version: '1.0.1' });
  });

  it('through a running gateway: a forged approval is not offered, a real one is, and the device installs it', async () => {
    const { bundle, tuf, sim, engineers, bytes } = await twoPersonFleet('gateway');
    const forged = await keylessBundle(bytes, ENGINEER, otherFulcio);
    await tuf.change((repo) => updateEntry(repo, path, (custom) => void (custom.keylessApprovals = { [engineers.keyID]: forged }), tuf.signing()));
    const gw = await startTestGateway(join(bench().root, 'gw'), bundle, { sigstoreTrustRoot: sigstore.trustRoot });
    try {
      const config = { ...sim.config, gatewayUrl: gw.url };
      await enrollDevice(config, { token: await gw.tokenFor(config.deviceId) });
      const device = { ...(await sim.open()), config };
      const waiting = await checkInOnce(device, { random: () => 0.5 });
      expect(waiting.response).toMatchObject({ action: 'none', reason: expect.stringMatching(/^not offered yet: .*1 of the 2 release signatures/) });
      const approval = await keylessBundle(bytes, ENGINEER);
      await tuf.change((repo) => addKeylessApproval(repo, path, bytes, approval, sigstore.trustRoot, tuf.signing()));
      await expect(checkInOnce(device, { random: () => 0.5 })).resolves.toMatchObject({ outcome: 'installed', install: { version: '1.0.1' } });
    } finally {
      await gw.close();
    }
  });
});
