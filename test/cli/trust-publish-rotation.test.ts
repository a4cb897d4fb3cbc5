// Replacing and revoking the worker's release-publish key with the real `ota` binary and a real Temporal
// dev server: `ota trust rotate-publish-key` (the default key file replaced, the old one retired), the
// releases published before still verify, the new key publishes; a worker left with the old key is
// refused (TUF_PUBLISH_KEY_REPLACED) and changes no metadata; the offline path (--out, sign, push
// --publish-key); `ota trust revoke-publish` stops the worker publishing (TUF_PUBLISHING_REVOKED).
import { copyFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { buildSampleImage } from '../../demo/sample-image.js';
import { generateSigningKeyPem, signingKeyFromPem } from '../../signing/keys.js';
import { tufPublicKey } from '../../trust/tuf-keys.js';
import { ensureDist } from '../support/dist.js';
import { otaIn, type OtaRun } from '../support/ota-cli.js';
import { startTemporal } from '../support/temporal.js';

const HW = 'edge-gw-publish-rotation';

describe('ota trust rotate-publish-key / revoke-publish (CLI)', () => {
  let env: TestWorkflowEnvironment;
  let state: string;
  let skipReason: string | undefined;
  let ota: (args: string[]) => Promise<OtaRun>;

  beforeAll(async () => {
    skipReason = await ensureDist();
    if (skipReason) return;
    state = await mkdtemp(join(tmpdir(), 'ota-publish-rotation-'));
    for (const v of ['1.0.0', '1.0.1', '1.0.2', '1.0.3']) buildSampleImage({ version: v, out: join(state, `fw-${v}.tar`) });
    let config;
    ({ env, config } = await startTemporal());
    ota = otaIn(state, { OTA_TEMPORAL_ADDRESS: config('publish-rotation').address, OTA_TASK_QUEUE: 'publish-rotation' });
  }, 120_000);
  afterAll(async () => {
    await env?.teardown();
    if (state) await rm(state, { recursive: true, force: true });
  });

  const publish = (version: string) =>
    ota(['release', 'publish', '--image', join(state, `fw-${version}.tar`), '--version', version, '--hardware', HW, '--security-version', '1', '--delta-count', '0', '--json']);
  const verify = async (version: string) => {
    const run = await ota(['verify', '--manifest', `store:releases/${HW}/${version}/manifest.json`, '--json']);
    return { code: run.code, tuf: (JSON.parse(run.stdout) as { checks: Array<{ artifact: string; ok: boolean; detail: string }> }).checks[0]! };
  };
  const show = async () => JSON.parse((await ota(['trust', 'show', '--json'])).stdout) as { publishKey?: string; replacedPublishKeys: Record<string, string>; roles: { targets: { version: number } } };
  const keyID = async (file: string) => tufPublicKey(signingKeyFromPem(await readFile(join(state, file), 'utf8')).publicKey).keyID;
  const tufFiles = () => readdir(join(state, 'artifacts', 'tuf')).then((f) => f.sort());
  const PUBLISH_KEY = join('keys', 'tuf', 'release-publish.pem');

  it('rotates the publish key (online and offline), refuses a worker left with the old key, and revokes publishing', async (ctx) => {
    if (skipReason) return ctx.skip();
    expect((await ota(['trust', 'init'])).code).toBe(0);
    expect((await publish('1.0.0')).code).toBe(0);
    const oldKey = await keyID(PUBLISH_KEY);
    expect((await show()).publishKey).toBe(oldKey);
    await copyFile(join(state, PUBLISH_KEY), join(state, 'stolen-publish.pem'));

    // Online: a new key replaces the default file; the old one is kept beside it, retired.
    const rotated = await ota(['trust', 'rotate-publish-key']);
    expect(rotated.stderr).toContain('new release-publish key');
    expect(rotated.code).toBe(0);
    const newKey = await keyID(PUBLISH_KEY);
    expect(newKey).not.toBe(oldKey);
    const after = await show();
    expect(after).toMatchObject({ publishKey: newKey, replacedPublishKeys: { [oldKey]: expect.any(String) } });
    expect((await stat(join(state, `${PUBLISH_KEY}.retired-targets-${after.roles.targets.version}`))).isFile()).toBe(true);

    // Released before the rotation: re-signed by the new key, still verifies. The new key publishes.
    expect(await verify('1.0.0')).toMatchObject({ code: 0, tuf: { ok: true } });
    const second = await publish('1.0.1');
    expect(second.stderr).toBe('');
    expect(await verify('1.0.1')).toMatchObject({ code: 0, tuf: { ok: true } });

    // A worker still holding the old key: refused with its own code, the TUF metadata untouched.
    await copyFile(join(state, PUBLISH_KEY), join(state, 'current-publish.pem'));
    await copyFile(join(state, 'stolen-publish.pem'), join(state, PUBLISH_KEY));
    const filesBefore = await tufFiles();
    const stale = await publish('1.0.2');
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain(`TUF_PUBLISH_KEY_REPLACED: release-publish key ${oldKey} was replaced at`);
    expect(await tufFiles()).toEqual(filesBefore);
    // Not published: no manifest in the store to verify.
    expect((await ota(['verify', '--manifest', `store:releases/${HW}/1.0.2/manifest.json`, '--json'])).code).toBe(1);

    // Offline: the targets machine writes the change with the new key's public part; push re-signs the role with the new private key.
    await copyFile(join(state, 'current-publish.pem'), join(state, PUBLISH_KEY));
    const offlinePem = generateSigningKeyPem();
    await writeFile(join(state, 'offline-publish.pem'), offlinePem, { mode: 0o600 });
    await writeFile(join(state, 'offline-publish.pub'), signingKeyFromPem(offlinePem).publicKeyPem);
    const offlineKey = await keyID('offline-publish.pem');
    const out = await ota(['trust', 'rotate-publish-key', '--publish-key', 'offline-publish.pub', '--out', 'next-targets.json']);
    expect(out.stderr).toContain('written to next-targets.json');
    expect((await show()).publishKey).toBe(newKey);
    expect((await ota(['trust', 'sign', 'next-targets.json', '--key', join('keys', 'tuf', 'targets.pem')])).code).toBe(0);
    const wrongKey = await ota(['trust', 'push', 'next-targets.json']);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain('pass the new key with --publish-key');
    const pushed = await ota(['trust', 'push', 'next-targets.json', '--publish-key', 'offline-publish.pem']);
    expect(pushed.stderr).toBe('');
    expect(await show()).toMatchObject({ publishKey: offlineKey, replacedPublishKeys: { [oldKey]: expect.any(String), [newKey]: expect.any(String) } });
    expect(await verify('1.0.1')).toMatchObject({ code: 0, tuf: { ok: true } });

    // Revoked: the worker cannot publish at all, refused before anything is uploaded; its releases still verify (now in targets).
    expect((await ota(['trust', 'revoke-publish'])).code).toBe(0);
    expect((await show()).publishKey).toBeUndefined();
    const revoked = await publish('1.0.3');
    expect(revoked.code).toBe(1);
    expect(revoked.stderr).toMatch(/^ota: TUF_PUBLISHING_REVOKED: targets version \d+ stopped delegating release manifests/);
    expect(await verify('1.0.1')).toMatchObject({ code: 0, tuf: { ok: true } });
  }, 600_000);
});
