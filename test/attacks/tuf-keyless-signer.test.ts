// Attack class: a keyless release signer (TUF TAP 18) abused. The fleet lists the CI's Sigstore identity
// (issuer + subject pattern) as a release signer; the release is a Fulcio/Rekor/TSA bundle (an offline mock
// Sigstore). Another identity, another issuer, a bundle over other bytes, a certificate from another
// Fulcio and a revoked identity are each refused with their own code, by the publish step (nothing
// listed) and by the device (nothing changed). A listed identity's release installs.
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestBundleKey, manifestKey } from '../../release/layout.js';
import { bundleToText } from '../../signing/bundle-json.js';
import { identityTokenFromEnv } from '../../signing/keyless.js';
import { signBlob } from '../../signing/message-signature.js';
import { mergeTrustRoots, readTrustRoot, writeTrustRoot } from '../../signing/trust-root.js';
import { keylessSignerKey } from '../../trust/keyless-signers.js';
import { readRepository } from '../../trust/metadata-store.js';
import { addReleaseTarget } from '../../trust/publish-target.js';
import { addKeylessApproval, requireSignatures } from '../../trust/release-approvals.js';
import { addSigner, revokeSigner } from '../../trust/repository.js';
import { DEVICE_HARDWARE } from '../support/device-releases.js';
import type { SimDevice } from '../support/device-sim.js';
import type { FleetTuf } from '../support/fleet-tuf.js';
import { fakeIdentityToken, startMockSigstore, type MockSigstore } from '../support/signing-sigstore-mock.js';
import { installFrom, refused, useTufAttackBench } from '../support/tuf-attack.js';

const ISSUER = 'https://token.actions.githubusercontent.com';
const CI = 'https://github.com/acme/gw-fw/.github/workflows/release.yml@refs/tags/v1.0.1';
const CI_PATTERN = 'https://github\\.com/acme/gw-fw/\\.github/workflows/release\\.yml@refs/tags/v[0-9.]+';
const ENGINEER = 'release-engineer@acme.example';
const VERSION = '1.0.1';
const path = manifestKey(DEVICE_HARDWARE, VERSION);

const bench = useTufAttackBench('keyless');
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

/** A keyless bundle over `bytes` for `identity` from `issuer`, through the given Sigstore. */
async function keylessBundle(bytes: Uint8Array, identity: string, issuer = ISSUER, through = sigstore): Promise<string> {
  const env = { CI_ID_TOKEN: fakeIdentityToken(identity, issuer) };
  const mode = { mode: 'keyless' as const, fulcioURL: through.fulcioURL, rekorURL: through.rekorURL, tsaURL: through.tsaURL, identityProvider: identityTokenFromEnv('CI_ID_TOKEN', env) };
  return bundleToText(await signBlob({ bytes }, mode));
}

/** The fleet lists the CI identity; the device's trust root pins the fleet's Sigstore (Fulcio, Rekor, TSA). */
async function keylessFleet(name: string): Promise<{ bundle: string; tuf: FleetTuf; sim: SimDevice; bytes: Buffer }> {
  const fleet = await bench().fleet(name);
  await fleet.tuf.change((repo) => addSigner(repo, keylessSignerKey(ISSUER, CI_PATTERN), fleet.tuf.signing()));
  const rootPath = fleet.sim.config.trust.trustedRootPath;
  await writeTrustRoot(rootPath, mergeTrustRoots(await readTrustRoot(rootPath), sigstore.trustRoot));
  return { ...fleet, bytes: await readFile(join(fleet.bundle, path)) };
}

/** What the pipeline's publish step does with a keyless bundle: the bundle beside the manifest, then the target. */
async function publishKeyless(tuf: FleetTuf, bundleDir: string, bytes: Buffer, bundleText: string) {
  await writeFile(join(bundleDir, manifestBundleKey(DEVICE_HARDWARE, VERSION)), bundleText);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const signing = async () => tuf.signing();
  for (let attempt = 0; ; attempt++) {
    try {
      return await addReleaseTarget(tuf.store, { path, bytes, sha256, bundle: JSON.parse(bundleText), sigstoreRoot: sigstore.trustRoot }, signing);
    } catch (err) {
      if (attempt > 3 || (err as { code?: string }).code?.startsWith('TUF_')) throw err;
    }
  }
}

async function targetsVersion(tuf: FleetTuf): Promise<number> {
  return (await readRepository(tuf.store)).repo.targets.signed.version;
}

describe('attack: keyless release signers', () => {
  it('the listed CI identity publishes keyless: the target names the keyless signer and the device installs it', async () => {
    const { bundle, tuf, sim, bytes } = await keylessFleet('listed');
    await expect(publishKeyless(tuf, bundle, bytes, await keylessBundle(bytes, CI))).resolves.toBe('added');
    const entry = (await tuf.read()).targets.signed.targets[path]!;
    expect(entry.custom).toMatchObject({ signer: keylessSignerKey(ISSUER, CI_PATTERN).keyID, signerIdentity: CI });
    await expect(installFrom(sim, bundle)).resolves.toMatchObject({ outcome: 'installed', version: VERSION });
  });

  it('an identity outside the pattern: the publish is refused (TUF_UNKNOWN_SIGNER, nothing listed); slipped beside a listed target, the device refuses it (WRONG_SIGNER), nothing changes', async () => {
    const { bundle, tuf, sim, bytes } = await keylessFleet('other-identity');
    const forkWorkflow = 'https://github.com/evil/gw-fw/.github/workflows/release.yml@refs/tags/v1.0.1';
    const before = await targetsVersion(tuf);
    await expect(publishKeyless(tuf, bundle, bytes, await keylessBundle(bytes, forkWorkflow))).rejects.toMatchObject({ code: 'TUF_UNKNOWN_SIGNER', message: expect.stringContaining(forkWorkflow) });
    // A branch build of the right repository is outside the pattern (tags only) too.
    await expect(publishKeyless(tuf, bundle, bytes, await keylessBundle(bytes, CI.replace('refs/tags/v1.0.1', 'refs/heads/main')))).rejects.toMatchObject({ code: 'TUF_UNKNOWN_SIGNER' });
    expect(await targetsVersion(tuf)).toBe(before);

    // The CI's real release is listed; the attacker replaces its bundle with one of their identity.
    await publishKeyless(tuf, bundle, bytes, await keylessBundle(bytes, CI));
    await writeFile(join(bundle, manifestBundleKey(DEVICE_HARDWARE, VERSION)), await keylessBundle(bytes, forkWorkflow));
    const result = await refused(sim, () => installFrom(sim, bundle));
    expect(result.code).toBe('WRONG_SIGNER');
    expect(result.message).toMatch(/identity|subjectAlternativeName|SAN/i);
    expect(result.after).toEqual(result.before);
  });

  it('the listed identity from another issuer: TUF_UNKNOWN_SIGNER at publish, WRONG_SIGNER on the device', async () => {
    const { bundle, tuf, sim, bytes } = await keylessFleet('other-issuer');
    const elsewhere = 'https://issuer.attacker.example';
    await expect(publishKeyless(tuf, bundle, bytes, await keylessBundle(bytes, CI, elsewhere))).rejects.toMatchObject({ code: 'TUF_UNKNOWN_SIGNER', message: expect.stringContaining(elsewhere) });
    await publishKeyless(tuf, bundle, bytes, await keylessBundle(bytes, CI));
    await writeFile(join(bundle, manifestBundleKey(DEVICE_HARDWARE, VERSION)), await keylessBundle(bytes, CI, elsewhere));
    const result = await refused(sim, () => installFrom(sim, bundle));
    expect(result.code).toBe('WRONG_SIGNER');
    expect(result.message).toMatch(/issuer/i);
    expect(result.after).toEqual(result.before);
  });

  it('a bundle over other bytes, or from a Fulcio the fleet does not pin: TUF_SIGNER_BUNDLE_INVALID at publish; on the device TAMPERED_MANIFEST / WRONG_SIGNER (untrusted certificate)', async () => {
    const { bundle, tuf, sim, bytes } = await keylessFleet('bad-bundle');
    const before = await targetsVersion(tuf);
    const otherBytes = Buffer.from(bytes.toString('utf8').replace('"1.0.1"', '"1.0.2"'));
    await expect(publishKeyless(tuf, bundle, bytes, await keylessBundle(otherBytes, CI))).rejects.toMatchObject({ code: 'TUF_SIGNER_BUNDLE_INVALID', message: expect.stringContaining('TAMPERED_ARTIFACT') });
    await expect(publishKeyless(tuf, bundle, bytes, await keylessBundle(bytes, CI, ISSUER, otherFulcio))).rejects.toMatchObject({ code: 'TUF_SIGNER_BUNDLE_INVALID' });
    expect(await targetsVersion(tuf)).toBe(before);

    await publishKeyless(tuf, bundle, bytes, await keylessBundle(bytes, CI));
    for (const [bundleText, code, pattern] of [
      [await keylessBundle(otherBytes, CI), 'TAMPERED_MANIFEST', /signature/],
      [await keylessBundle(bytes, CI, ISSUER, otherFulcio), 'WRONG_SIGNER', /timestamp|certificate/i],
    ] as const) {
      await writeFile(join(bundle, manifestBundleKey(DEVICE_HARDWARE, VERSION)), bundleText);
      const result = await refused(sim, () => installFrom(sim, bundle));
      expect(result.code).toBe(code);
      expect(result.message).toMatch(pattern);
      expect(result.after).toEqual(result.before);
    }
  });

  it('a revoked keyless signer: its release is refused on the device (TUF_SIGNER_REVOKED) and its next publish too (TUF_UNKNOWN_SIGNER)', async () => {
    const { bundle, tuf, sim, bytes } = await keylessFleet('revoked');
    const ciBundle = await keylessBundle(bytes, CI);
    await publishKeyless(tuf, bundle, bytes, ciBundle);
    await tuf.change((repo) => revokeSigner(repo, keylessSignerKey(ISSUER, CI_PATTERN).keyID, tuf.signing()));
    const result = await refused(sim, () => installFrom(sim, bundle));
    expect(result.code).toBe('TUF_SIGNER_REVOKED');
    expect(result.after).toEqual(result.before);
    await expect(publishKeyless(tuf, bundle, bytes, ciBundle)).rejects.toMatchObject({ code: 'TUF_UNKNOWN_SIGNER' });
  });

  it('two-person channel: a keyless approval by another listed identity counts, the publishing identity cannot approve itself; the device installs only with the approval', async () => {
    const { bundle, tuf, sim, bytes } = await keylessFleet('approval');
    await publishKeyless(tuf, bundle, bytes, await keylessBundle(bytes, CI));
    const engineers = keylessSignerKey('https://accounts.google.com', 'release-engineer@acme\\.example');
    await tuf.change((repo) => requireSignatures(addSigner(repo, engineers, tuf.signing()), 'stable', 2, tuf.signing()));
    const unapproved = await refused(sim, () => installFrom(sim, bundle));
    expect(unapproved.code).toBe('TUF_THRESHOLD_NOT_MET');
    expect(unapproved.after).toEqual(unapproved.before);

    // Something that is not a bundle; then the CI identity (listed, but the publisher) as the second signature.
    const repo = await tuf.read();
    expect(() => addKeylessApproval(repo, path, bytes, JSON.parse(notABundle(bytes)), sigstore.trustRoot, tuf.signing())).toThrow(expect.objectContaining({ code: 'TUF_SIGNER_BUNDLE_INVALID' }));
    const selfApproval = await keylessBundle(bytes, CI);
    expect(() => addKeylessApproval(repo, path, bytes, selfApproval, sigstore.trustRoot, tuf.signing())).toThrow(expect.objectContaining({ code: 'TUF_INVALID_CHANGE' }));
    // An approval over other bytes is no approval.
    const overOther = await keylessBundle(Buffer.from('{}'), ENGINEER, 'https://accounts.google.com');
    expect(() => addKeylessApproval(repo, path, bytes, overOther, sigstore.trustRoot, tuf.signing())).toThrow(expect.objectContaining({ code: 'TUF_SIGNER_BUNDLE_INVALID' }));

    const approval = await keylessBundle(bytes, ENGINEER, 'https://accounts.google.com');
    await tuf.change((r) => addKeylessApproval(r, path, bytes, approval, sigstore.trustRoot, tuf.signing()));
    await expect(installFrom(sim, bundle)).resolves.toMatchObject({ outcome: 'installed', version: VERSION });
  });
});

/** Not a bundle at all: what a malformed approval looks like. */
function notABundle(bytes: Buffer): string {
  return JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', note: `not a bundle over ${bytes.length} bytes` });
}
