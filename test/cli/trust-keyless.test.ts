// `ota trust add-signer --keyless` (TUF TAP 18) through the real binary: a Sigstore identity listed as a
// release signer (show names it), the refusals of a pattern that names no identity, a keyless publish
// refused before anything is uploaded while no keyless identity covers the release, and revoke-signer
// --keyless. The keyless publish and approval themselves run in test/attacks/tuf-keyless-signer.test.ts.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDeviceKey } from '../../schemas/device-envelope.js';
import { keylessSignerKey } from '../../trust/keyless-signers.js';
import { ensureDist } from '../support/dist.js';
import { otaIn } from '../support/ota-cli.js';

const ISSUER = 'https://token.actions.githubusercontent.com';
const SUBJECT = 'https://github\\.com/acme/gw-fw/\\.github/workflows/release\\.yml@refs/tags/v.+';

describe('ota trust add-signer --keyless (CLI)', () => {
  let state: string;
  let skipReason: string | undefined;

  beforeAll(async () => {
    skipReason = await ensureDist();
    state = await mkdtemp(join(tmpdir(), 'ota-trust-keyless-'));
  });
  afterAll(async () => {
    if (state) await rm(state, { recursive: true, force: true });
  });

  it('lists a keyless identity, refuses a pattern for any identity, refuses a keyless publish it does not cover before any upload, revokes it', async (ctx) => {
    if (skipReason) return ctx.skip();
    const ota = otaIn(state);
    expect((await ota(['trust', 'init'])).code).toBe(0);

    // A keyless publish while targets lists keys only: refused first, nothing uploaded.
    const before = await readdir(join(state, 'artifacts'), { recursive: true });
    const unlisted = await ota(['release', 'publish', '--image', 'missing.tar', '--version', '1.0.0', '--hardware', 'gw-a', '--keyless']);
    expect(unlisted.code).toBe(1);
    expect(unlisted.stderr.trim().split('\n')).toHaveLength(1);
    expect(unlisted.stderr).toMatch(/^ota: TUF_UNKNOWN_SIGNER: targets version 1 lists no keyless release signer/);
    expect(await readdir(join(state, 'artifacts'), { recursive: true })).toEqual(before);

    for (const [args, message] of [
      [['--subject', SUBJECT], /--keyless needs --issuer <url> and --subject <regex>/],
      [['--issuer', ISSUER, '--subject', '.*'], /TUF_INVALID_CHANGE: --subject ".\*" matches any identity of the issuer/],
      [['--issuer', ISSUER, '--subject', 'a(b'], /TUF_INVALID_CHANGE: --subject a\(b is not a regular expression/],
      [['--issuer', 'http://issuer.example', '--subject', SUBJECT], /TUF_INVALID_CHANGE: --issuer http:\/\/issuer.example: an OIDC issuer is an https URL/],
    ] as const) {
      const bad = await ota(['trust', 'add-signer', '--keyless', ...args]);
      expect(bad.code).toBe(1);
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
      expect(bad.stderr).toMatch(message);
    }

    const added = await ota(['trust', 'add-signer', '--keyless', '--issuer', ISSUER, '--subject', SUBJECT, '--hardware', 'gw-a', '--json']);
    expect(added.stderr).toBe('');
    const described = JSON.parse(added.stdout);
    const keyID = keylessSignerKey(ISSUER, SUBJECT).keyID;
    expect(described.roles.targets.version).toBe(2);
    expect(described.releaseSigners[1]).toEqual({ keyID, hint: '', hardware: ['gw-a'], keyless: { issuer: ISSUER, identity: SUBJECT } });
    expect((await ota(['trust', 'show'])).stdout).toContain(`signer    ${keyID} (keyless ${SUBJECT} (issuer ${ISSUER})), hardware gw-a only`);

    // Listed for gw-a only: a keyless publish for gw-b is still refused before any upload.
    const beforeOther = await readdir(join(state, 'artifacts'), { recursive: true });
    const other = await ota(['release', 'publish', '--image', 'missing.tar', '--version', '1.0.0', '--hardware', 'gw-b', '--keyless']);
    expect(other.stderr).toMatch(/^ota: TUF_SIGNER_OUT_OF_SCOPE: no keyless release signer of targets version 2 signs releases\/gw-b\/1.0.0\/manifest.json/);
    expect(await readdir(join(state, 'artifacts'), { recursive: true })).toEqual(beforeOther);

    const revoked = JSON.parse((await ota(['trust', 'revoke-signer', '--keyless', '--issuer', ISSUER, '--subject', SUBJECT, '--json'])).stdout);
    expect(revoked.releaseSigners).toHaveLength(1);
    expect(Object.keys(revoked.revokedSigners)).toEqual([keyID]);
  }, 180_000);

  it('device-trust signs the gateway answer key into targets; a key file that is no key is refused, nothing written', async (ctx) => {
    if (skipReason) return ctx.skip();
    const ota = otaIn(state);
    const answer = generateDeviceKey('ecdsa-p256-sha256');
    await writeFile(join(state, 'gateway-answer.pub'), answer.publicKeyPem);
    await writeFile(join(state, 'not-a-key.pub'), 'hello');
    const targetsFile = () => readFile(join(state, 'artifacts', 'tuf', 'targets.json'), 'utf8').then((t) => JSON.parse(t).signed);
    const before = await targetsFile();
    const bad = await ota(['trust', 'device-trust', '--answer-key', 'not-a-key.pub']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^ota: TUF_INVALID_CHANGE: device trust: /);
    expect(await targetsFile()).toEqual(before);
    expect((await ota(['trust', 'device-trust', '--answer-key', 'gateway-answer.pub'])).code).toBe(0);
    const after = await targetsFile();
    expect(after.version).toBe(before.version + 1);
    expect(after['x-edge-ota-device-trust']).toEqual({ type: 'edge-ota.device-trust.v1', answerKeys: [answer.publicKeyPem], fleetCaRoots: [] });
  }, 180_000);
});
