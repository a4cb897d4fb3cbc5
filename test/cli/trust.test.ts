// The real `ota trust` commands on the embedded default layout under a temporary OTA_STATE_DIR:
// init (2 of 3 root keys), rotate the root twice, add and revoke a signer, show --json, and the
// refusals (one line on stderr, exit 1, the store untouched).
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPem } from '../../signing/keys.js';
import { ensureDist } from '../support/dist.js';
import { otaIn } from '../support/ota-cli.js';

describe('ota trust (CLI)', () => {
  let state: string;
  let skipReason: string | undefined;

  const trust = (...args: string[]) => otaIn(state)(['trust', ...args]);
  const tufFiles = () => readdir(join(state, 'artifacts', 'tuf')).then((f) => f.sort());

  beforeAll(async () => {
    skipReason = await ensureDist();
    state = await mkdtemp(join(tmpdir(), 'ota-trust-cli-'));
  });
  afterAll(async () => {
    if (state) await rm(state, { recursive: true, force: true });
  });

  it('inits, rotates the root, adds and revokes a signer; each change is a new version that show reports', async (ctx) => {
    if (skipReason) return ctx.skip();
    const init = await trust('init', '--threshold', '2', '--root-key', 'r1.pem', 'r2.pem', 'r3.pem', '--json');
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    const created = JSON.parse(init.stdout);
    expect(created.roles.root).toMatchObject({ version: 1, threshold: 2 });
    expect(created.roles.root.keyIDs).toHaveLength(3);
    expect(created.releaseSigners).toHaveLength(1);
    // Keys are created 0600, in the config folder beside the release key (root keys where asked).
    expect((await stat(join(state, 'r1.pem'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(state, 'keys', 'tuf', 'online.pem'))).mode & 0o777).toBe(0o600);
    expect(await readdir(join(state, 'trust', 'tuf'))).toEqual(['root.json', 'state.json']);

    // One root key alone is below the threshold of root 1: refused, nothing written.
    const before = await tufFiles();
    const weak = await trust('rotate-root', '--root-key', 'r1.pem', '--new-root-key', 'r4.pem', 'r5.pem');
    expect(weak.code).toBe(1);
    expect(weak.stderr.trim().split('\n')).toHaveLength(1);
    expect(weak.stderr).toContain('not signed by the threshold of root 1');
    expect(await tufFiles()).toEqual(before);

    const second = await trust('rotate-root', '--root-key', 'r1.pem', 'r2.pem', '--new-root-key', 'r4.pem', 'r5.pem', '--threshold', '2', '--json');
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout).roles.root).toMatchObject({ version: 2, threshold: 2 });
    const third = await trust('rotate-root', '--root-key', 'r4.pem', 'r5.pem', '--new-root-key', 'r5.pem', 'r6.pem', '--json');
    expect(JSON.parse(third.stdout).roles.root.version).toBe(3);

    await writeFile(join(state, 'ci.pem'), generateSigningKeyPem(), { mode: 0o600 });
    const added = JSON.parse((await trust('add-signer', '--role', 'targets', '--key', 'ci.pem', '--json')).stdout);
    expect(added.releaseSigners).toHaveLength(2);
    expect(added.roles.targets.version).toBe(2);
    const revoked = JSON.parse((await trust('revoke-signer', '--key', join('keys', 'release-signing.pub'), '--json')).stdout);
    expect(revoked.releaseSigners).toEqual([added.releaseSigners[1]]);
    expect(Object.keys(revoked.revokedSigners)).toEqual([created.releaseSigners[0].keyID]);
    expect(revoked.roles.targets.version).toBe(3);
    const last = await trust('revoke-signer', '--key', 'ci.pem');
    expect(last.code).toBe(1);
    expect(last.stderr).toContain('last release signer');

    const show = await trust('show');
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/root\s+version 3 .* 2 of 2 key/);
    expect(show.stdout).toContain(`revoked   ${created.releaseSigners[0].keyID}`);
    // The publish role (the worker's release-publish key) is delegated at init: its first, empty version.
    expect(await tufFiles()).toEqual(['1.release-publish.json', '1.root.json', '1.snapshot.json', '1.targets.json', '2.root.json', '2.snapshot.json', '2.targets.json', '3.root.json', '3.snapshot.json', '3.targets.json', 'release-publish.json', 'snapshot.json', 'targets.json', 'timestamp.json']);
    const again = await trust('init');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already has a TUF repository');
  }, 180_000);

  it('rotates the root with keys signed offline: rotate-root --out, trust sign on each holder, rotate-root --from; refresh re-signs the timestamp', async (ctx) => {
    if (skipReason) return ctx.skip();
    // Root 3 has keys r5, r6 (threshold 2, from the test above); root 4 adds r7, given as a public key.
    expect((await trust('rotate-root', '--root-key', 'r6.pem', 'r7.pem')).code).toBe(1);
    await writeFile(join(state, 'r7.pem'), generateSigningKeyPem(), { mode: 0o600 });
    const { execFileSync } = await import('node:child_process');
    execFileSync('openssl', ['ec', '-in', 'r7.pem', '-pubout', '-out', 'r7.pub'], { cwd: state, stdio: 'ignore' });
    const proposed = await trust('rotate-root', '--new-root-key', 'r5.pem', 'r6.pem', 'r7.pub', '--out', 'proposal.json');
    expect(proposed.code).toBe(0);
    expect(proposed.stderr).toContain('ota trust sign proposal.json');
    const early = await trust('rotate-root', '--from', 'proposal.json');
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/^ota: TUF_THRESHOLD_NOT_MET: root 4 is not signed by the threshold of root 3/);
    for (const key of ['r5.pem', 'r6.pem']) expect((await trust('sign', 'proposal.json', '--key', key)).code).toBe(0);
    const signed = JSON.parse((await trust('sign', 'proposal.json', '--key', 'r7.pem', '--json')).stdout);
    expect(signed).toMatchObject({ version: 4, threshold: 2 });
    expect(signed.signatures).toHaveLength(3);
    const rotated = JSON.parse((await trust('rotate-root', '--from', 'proposal.json', '--json')).stdout);
    expect(rotated.roles.root).toMatchObject({ version: 4, threshold: 2 });
    expect(rotated.roles.root.keyIDs).toHaveLength(3);
    const refreshed = JSON.parse((await trust('refresh', '--json')).stdout);
    expect(refreshed.roles.timestamp.version).toBe(rotated.roles.timestamp.version + 1);
    expect(refreshed.roles.targets.version).toBe(rotated.roles.targets.version);
  }, 180_000);

  it('add-signer --hardware limits a CI key to one product line: a publish for another is refused before anything is read or uploaded', async (ctx) => {
    if (skipReason) return ctx.skip();
    const line = await mkdtemp(join(tmpdir(), 'ota-trust-scope-'));
    try {
      const ota = otaIn(line);
      expect((await ota(['trust', 'init'])).code).toBe(0);
      await writeFile(join(line, 'ci.pem'), generateSigningKeyPem(), { mode: 0o600 });
      const bad = await ota(['trust', 'add-signer', '--key', 'ci.pem', '--hardware', 'GW A']);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/^ota: TUF_INVALID_CHANGE: "GW A" is not a hardware id/);
      const added = JSON.parse((await ota(['trust', 'add-signer', '--key', 'ci.pem', '--hardware', 'gw-a', '--json'])).stdout);
      expect(added.releaseSigners.map((s: { hardware: unknown }) => s.hardware)).toEqual(['all', ['gw-a']]);
      expect((await ota(['trust', 'show'])).stdout).toMatch(/signer {4}[0-9a-f]{64} \(hint [0-9a-f]{16}\), hardware gw-a only/);
      const before = await readdir(join(line, 'artifacts'), { recursive: true });
      // The image does not even exist: the refusal comes first.
      const other = await ota(['release', 'publish', '--image', 'missing.tar', '--version', '1.0.0', '--hardware', 'gw-b', '--key', 'ci.pem']);
      expect(other.code).toBe(1);
      expect(other.stderr.trim().split('\n')).toHaveLength(1);
      expect(other.stderr).toMatch(/^ota: TUF_SIGNER_OUT_OF_SCOPE: release signer [0-9a-f]{64} signs for hardware gw-a only, not releases\/gw-b\/1.0.0\/manifest.json/);
      expect(await readdir(join(line, 'artifacts'), { recursive: true })).toEqual(before);
    } finally {
      await rm(line, { recursive: true, force: true });
    }
  }, 180_000);

  it('rotate-root --rotate-targets-key --rotate-online-key: root N+1 names new keys, the key files in use are replaced, later changes sign with them', async (ctx) => {
    if (skipReason) return ctx.skip();
    const dir = await mkdtemp(join(tmpdir(), 'ota-trust-rotate-keys-'));
    try {
      const ota = otaIn(dir);
      const created = JSON.parse((await ota(['trust', 'init', '--json'])).stdout);
      const rootKey = join('keys', 'tuf', 'root-1.pem');
      const noRootKey = await ota(['trust', 'rotate-root', '--rotate-online-key']);
      expect(noRootKey.code).toBe(1);
      expect(noRootKey.stderr).toContain('rotate-root needs --root-key');
      const run = await ota(['trust', 'rotate-root', '--root-key', rootKey, '--rotate-targets-key', '--rotate-online-key', '--json']);
      expect(run.code).toBe(0);
      const rotated = JSON.parse(run.stdout);
      expect(rotated.roles.root.version).toBe(2);
      for (const role of ['targets', 'snapshot', 'timestamp']) {
        expect(rotated.roles[role].keyIDs).toHaveLength(1);
        expect(rotated.roles[role].keyIDs).not.toEqual(created.roles[role].keyIDs);
      }
      expect(rotated.roles.targets.version).toBe(created.roles.targets.version + 1);
      // The old keys are kept under the last root that named them.
      const keys = join(dir, 'keys', 'tuf');
      expect(rotated.keyFiles).toEqual({ [join(keys, 'targets.pem')]: join(keys, 'targets.pem.retired-root-1'), [join(keys, 'online.pem')]: join(keys, 'online.pem.retired-root-1') });
      for (const name of ['targets.pem', 'online.pem', 'targets.pem.retired-root-1', 'online.pem.retired-root-1']) {
        expect((await stat(join(dir, 'keys', 'tuf', name))).mode & 0o777).toBe(0o600);
      }
      expect((await readdir(join(dir, 'keys', 'tuf'))).filter((f) => f.endsWith('.next'))).toEqual([]);
      // Later changes sign with the new files, and a fresh verifier walks root 1 -> 2 and accepts them.
      await writeFile(join(dir, 'ci.pem'), generateSigningKeyPem(), { mode: 0o600 });
      const added = JSON.parse((await ota(['trust', 'add-signer', '--key', 'ci.pem', '--json'])).stdout);
      expect(added.roles.targets).toMatchObject({ version: rotated.roles.targets.version + 1, keyIDs: rotated.roles.targets.keyIDs });
      expect((await ota(['trust', 'refresh'])).code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
