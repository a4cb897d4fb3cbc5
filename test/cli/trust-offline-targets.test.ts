// Targets changes with the targets key offline, through the real binary: add-signer / require-signatures
// --out write the next targets version to a file (no key read or created, the store untouched), `ota trust
// sign` adds the targets key's signature on its own machine, `ota trust push` publishes it (snapshot and
// timestamp signed by the online key). Unsigned, wrongly signed or stale files are refused, nothing written.
import { createPublicKey } from 'node:crypto';
import { access, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPem } from '../../signing/keys.js';
import { ensureDist } from '../support/dist.js';
import { otaIn } from '../support/ota-cli.js';

describe('ota trust: targets changes signed offline (CLI)', () => {
  let state: string;
  let skipReason: string | undefined;

  beforeAll(async () => {
    skipReason = await ensureDist();
    state = await mkdtemp(join(tmpdir(), 'ota-trust-offline-'));
  });
  afterAll(async () => {
    if (state) await rm(state, { recursive: true, force: true });
  });

  it('add-signer --out, trust sign on the offline machine, trust push; refusals leave the store as it was', async (ctx) => {
    if (skipReason) return ctx.skip();
    const ota = otaIn(state);
    const init = JSON.parse((await ota(['trust', 'init', '--json'])).stdout);
    expect(init.keyFiles.publish).toMatch(/release-publish\.pem$/);
    // The targets key leaves this machine.
    await mkdir(join(state, 'offline'));
    await rename(join(state, 'keys', 'tuf', 'targets.pem'), join(state, 'offline', 'targets.pem'));
    await writeFile(join(state, 'ci.pem'), generateSigningKeyPem(), { mode: 0o600 });
    const tufFiles = () => readdir(join(state, 'artifacts', 'tuf')).then((f) => f.sort());
    const before = await tufFiles();

    const out = await ota(['trust', 'add-signer', '--key', 'ci.pem', '--out', 'targets-2.json']);
    expect(out.code).toBe(0);
    expect(out.stderr).toContain('targets 2 written to targets-2.json: sign it with `ota trust sign targets-2.json --key <targets key>`, then `ota trust push targets-2.json`');
    expect(await tufFiles()).toEqual(before);
    // No targets key was read or made on this machine.
    await expect(access(join(state, 'keys', 'tuf', 'targets.pem'))).rejects.toThrow();
    const written = JSON.parse(await readFile(join(state, 'targets-2.json'), 'utf8'));
    expect(written.signed).toMatchObject({ _type: 'targets', version: 2 });
    expect(written.signatures).toEqual([]);

    const unsigned = await ota(['trust', 'push', 'targets-2.json']);
    expect(unsigned.code).toBe(1);
    expect(unsigned.stderr.trim().split('\n')).toHaveLength(1);
    expect(unsigned.stderr).toMatch(/^ota: TUF_THRESHOLD_NOT_MET: targets version 2 is not signed by the threshold of root 1/);
    expect(await tufFiles()).toEqual(before);

    // A key that is not the targets role's (here the worker's publish key) signs nothing that counts.
    await writeFile(join(state, 'wrong.json'), await readFile(join(state, 'targets-2.json')));
    expect((await ota(['trust', 'sign', 'wrong.json', '--key', join('keys', 'tuf', 'release-publish.pem')])).code).toBe(0);
    expect((await ota(['trust', 'push', 'wrong.json'])).stderr).toMatch(/^ota: TUF_THRESHOLD_NOT_MET/);
    expect(await tufFiles()).toEqual(before);

    const signed = await ota(['trust', 'sign', 'targets-2.json', '--key', join('offline', 'targets.pem')]);
    expect(signed.stdout).toContain('targets 2 in targets-2.json: 1 signature(s): publish it with `ota trust push targets-2.json`');
    const pushed = await ota(['trust', 'push', 'targets-2.json', '--json']);
    expect(pushed.stderr).toBe('');
    const after = JSON.parse(pushed.stdout);
    expect(after.roles.targets.version).toBe(2);
    expect(after.releaseSigners).toHaveLength(2);
    expect(after.roles.snapshot.version).toBe(2);

    // Pushed twice, or written before another change landed: not the next version, refused.
    const again = await ota(['trust', 'push', 'targets-2.json']);
    expect(again.stderr).toMatch(/^ota: TUF_INVALID_CHANGE: targets version 2 is not the next version \(3\)/);

    const threshold = await ota(['trust', 'require-signatures', '--channel', 'stable', '--threshold', '2', '--out', 'targets-3.json']);
    expect(threshold.code).toBe(0);
    await ota(['trust', 'sign', 'targets-3.json', '--key', join('offline', 'targets.pem')]);
    expect(JSON.parse((await ota(['trust', 'push', 'targets-3.json', '--json'])).stdout).roles.targets.version).toBe(3);
    await expect(access(join(state, 'keys', 'tuf', 'targets.pem'))).rejects.toThrow();

    // Rotate the targets key with every private key offline: root N+1 and the next targets, signed apart.
    const newTargetsPem = generateSigningKeyPem();
    await writeFile(join(state, 'offline', 'targets-new.pem'), newTargetsPem, { mode: 0o600 });
    await writeFile(join(state, 'offline', 'targets-new.pub'), createPublicKey(newTargetsPem).export({ format: 'pem', type: 'spki' }));
    const beforeRotation = await tufFiles();
    const proposed = await ota(['trust', 'rotate-root', '--rotate-targets-key', '--new-targets-key', join('offline', 'targets-new.pub'), '--out', 'root-2.json']);
    expect(proposed.code).toBe(0);
    expect(proposed.stderr).toContain('root 2 written to root-2.json, targets 4 to root-2.targets.json');
    expect(await tufFiles()).toEqual(beforeRotation);
    // Signed by the new targets key but not yet by the root keys: refused, nothing written.
    await ota(['trust', 'sign', 'root-2.targets.json', '--key', join('offline', 'targets-new.pem')]);
    const short = await ota(['trust', 'push', 'root-2.targets.json', '--root', 'root-2.json']);
    expect(short.stderr).toMatch(/^ota: TUF_THRESHOLD_NOT_MET: /);
    expect(await tufFiles()).toEqual(beforeRotation);
    await ota(['trust', 'sign', 'root-2.json', '--key', join('keys', 'tuf', 'root-1.pem')]);
    const rotated = await ota(['trust', 'push', 'root-2.targets.json', '--root', 'root-2.json', '--json']);
    expect(rotated.stderr).toBe('');
    const shown = JSON.parse(rotated.stdout);
    expect(shown.roles.root.version).toBe(2);
    expect(shown.roles.targets.version).toBe(4);
    expect(shown.roles.targets.keyIDs).not.toEqual(after.roles.targets.keyIDs);
    // The old targets key signs nothing any more.
    await ota(['trust', 'revoke-signer', '--key', 'ci.pem', '--out', 'targets-5.json']);
    await ota(['trust', 'sign', 'targets-5.json', '--key', join('offline', 'targets.pem')]);
    expect((await ota(['trust', 'push', 'targets-5.json'])).stderr).toMatch(/^ota: TUF_THRESHOLD_NOT_MET: targets version 5 is not signed by the threshold of root 2/);
    await ota(['trust', 'sign', 'targets-5.json', '--key', join('offline', 'targets-new.pem')]);
    expect(JSON.parse((await ota(['trust', 'push', 'targets-5.json', '--json'])).stdout).roles.targets.version).toBe(5);
  }, 240_000);
});
