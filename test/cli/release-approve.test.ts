// `ota trust require-signatures` and `ota release approve` through the real `ota` binary on the embedded
// layout: a release listed as a target, a channel requiring two signers, an approval by a second release
// signer, and the refusals (one line, exit 1, the repository untouched).
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPem, loadOrCreateSigningKey } from '../../signing/keys.js';
import { LocalArtifactStore } from '../../stores/local-store.js';
import { signingKeyFile } from '../../trust/key-files.js';
import { readRepository, writeRepository } from '../../trust/metadata-store.js';
import { releaseSignatures, releaseThreshold } from '../../trust/release-approvals.js';
import { addTarget } from '../../trust/repository.js';
import { tufPublicKey } from '../../trust/tuf-keys.js';
import { localTrustDir } from '../../trust/local-trust.js';
import { emptyTrustRoot } from '../../signing/trust-root.js';
import { verifyThroughTuf } from '../../verification/tuf-release.js';
import { ensureDist } from '../support/dist.js';
import { otaIn } from '../support/ota-cli.js';
import { releaseView } from '../../trust/publish-role.js';

let state: string;
let skipReason: string | undefined;
const path = 'releases/cli-board/1.0.1/manifest.json';
const manifest = Buffer.from('{"hardwareId":"cli-board","version":"1.0.1","channel":"stable"}');
const ota = (...args: string[]) => otaIn(state)(args);
const repository = async () => {
  const store = new LocalArtifactStore(join(state, 'artifacts'));
  return (await readRepository(store)).repo;
};

beforeAll(async () => {
  skipReason = await ensureDist();
  state = await mkdtemp(join(tmpdir(), 'ota-release-approve-'));
  expect((await ota('trust', 'init')).code).toBe(0);
  // A published release: its manifest in the store and listed as a target signed by the release key.
  await mkdir(join(state, 'artifacts', 'releases', 'cli-board', '1.0.1'), { recursive: true });
  await writeFile(join(state, 'artifacts', path), manifest);
  const store = new LocalArtifactStore(join(state, 'artifacts'));
  const before = await readRepository(store);
  const releaseKey = tufPublicKey((await loadOrCreateSigningKey(join(state, 'keys', 'release-signing.pem'))).publicKey);
  const signing = { targetsKeys: [await signingKeyFile(join(state, 'keys', 'tuf', 'targets.pem'))], onlineKey: await signingKeyFile(join(state, 'keys', 'tuf', 'online.pem')), publishKey: await signingKeyFile(join(state, 'keys', 'tuf', 'release-publish.pem')), now: new Date() };
  await writeRepository(store, addTarget(before.repo, { path, length: manifest.length, sha256: createHash('sha256').update(manifest).digest('hex'), signerKeyID: releaseKey.keyID }, signing), before);
  await writeFile(join(state, 'engineer.pem'), generateSigningKeyPem(), { mode: 0o600 });
  expect((await ota('trust', 'add-signer', '--key', 'engineer.pem')).code).toBe(0);
}, 120_000);

afterAll(async () => {
  if (state) await rm(state, { recursive: true, force: true });
});

describe('ota trust require-signatures / ota release approve (CLI)', () => {
  it('stable needs two signers; the engineer approves; the publisher or a stranger cannot', async (ctx) => {
    if (skipReason) return ctx.skip();
    const required = await ota('trust', 'require-signatures', '--channel', 'stable', '--threshold', '2', '--json');
    expect(required.code).toBe(0);
    expect(releaseThreshold((await repository()).targets, 'stable')).toBe(2);

    const files = () => readdir(join(state, 'artifacts', 'tuf')).then((f) => f.sort());
    const before = await files();
    const own = await ota('release', 'approve', '1.0.1', '--hardware', 'cli-board', '--key', join('keys', 'release-signing.pem'));
    expect(own.code).toBe(1);
    expect(own.stderr.trim().split('\n')).toHaveLength(1);
    expect(own.stderr).toMatch(/TUF_INVALID_CHANGE: .*the approval must come from another release signer/);
    await writeFile(join(state, 'stranger.pem'), generateSigningKeyPem(), { mode: 0o600 });
    const stranger = await ota('release', 'approve', '1.0.1', '--hardware', 'cli-board', '--key', 'stranger.pem');
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toMatch(/TUF_UNKNOWN_SIGNER/);
    expect(await files()).toEqual(before);

    // `ota verify`'s TUF step refuses the release with one signature, as the gateway and the device do.
    const verifyTuf = () =>
      verifyThroughTuf({ store: new LocalArtifactStore(join(state, 'artifacts')), localTrustDir: localTrustDir(join(state, 'trust', 'trusted_root.json')), trustRoot: emptyTrustRoot(), manifestBytes: manifest, manifestPath: path });
    await expect(verifyTuf()).rejects.toMatchObject({ code: 'TUF_THRESHOLD_NOT_MET' });

    const approved = await ota('release', 'approve', '1.0.1', '--hardware', 'cli-board', '--key', 'engineer.pem', '--json');
    expect(approved.stderr).toBe('');
    expect(approved.code).toBe(0);
    const engineer = tufPublicKey((await loadOrCreateSigningKey(join(state, 'engineer.pem'))).publicKey).keyID;
    // The release is listed in the publish role (the worker's), where its approval went too.
    const repo = await repository();
    expect(releaseSignatures(releaseView(repo.targets, repo.published), path, await readFile(join(state, 'artifacts', path)))).toContain(engineer);
    expect((await verifyTuf())!.detail).toMatch(/signed by/);
  });
});
