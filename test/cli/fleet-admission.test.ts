// `ota fleet preauthorize | token | factory-ca | accept | reject | admissions` and the gateway's
// --insecure-shared-token, through the compiled CLI against the embedded fleet store, with real
// devices enrolling over HTTP at `ota gateway` in between.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../platform/free-port.js';
import { generateDeviceKey } from '../../schemas/device-envelope.js';
import { enrollBody, postEnroll } from '../support/admission.js';
import { ensureDist, OTA_BIN } from '../support/dist.js';
import { factoryChain, makeFactoryCa } from '../support/factory-ca.js';
import { otaIn } from '../support/ota-cli.js';

const HW = 'gw-cli-adm';

/** `ota gateway` until stop(); its stderr so far in `log()`. */
async function startGateway(state: string, args: string[], env: Record<string, string> = {}): Promise<{ url: string; log: () => string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [OTA_BIN, 'gateway', '--port', String(port), ...args], { env: { PATH: process.env.PATH ?? '', HOME: state, OTA_STATE_DIR: state, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await expect.poll(() => stderr, { timeout: 60_000, interval: 200 }).toMatch(/listening on/);
  return { url: `http://127.0.0.1:${port}`, log: () => stderr, stop: async () => (child.kill('SIGTERM'), exited) };
}

describe('ota fleet admission commands', { timeout: 300_000 }, () => {
  let skipReason: string | undefined;
  const state = mkdtempSync(join(tmpdir(), 'ota-cli-admission-'));
  const ota = otaIn(state);
  beforeAll(async () => {
    skipReason = await ensureDist();
    if (skipReason) console.error(`\n*** SKIPPING ota fleet admission CLI test: ${skipReason} ***\n`);
  }, 200_000);

  it('preauthorize, token and factory-ca set the selectors; devices enroll at the gateway; accept and reject decide the pending ones', async (ctx) => {
    if (skipReason) return ctx.skip();
    const pre = generateDeviceKey('ed25519');
    writeFileSync(join(state, 'pre.pub.pem'), pre.publicKeyPem);
    const preauthorized = await ota(['fleet', 'preauthorize', '--device', 'cli-pre-1', '--public-key', join(state, 'pre.pub.pem'), '--hardware', HW, '--labels', 'region=eu', 'store=s-1']);
    expect(preauthorized).toMatchObject({ code: 0, stdout: `preauthorized cli-pre-1 (${HW}/stable)\n` });

    const tokenRun = await ota(['fleet', 'token', '--device', 'cli-tok-1', '--ttl', '30m', '--labels', 'ring=pilot', '--json']);
    expect(tokenRun.code, tokenRun.stderr).toBe(0);
    const { token } = JSON.parse(tokenRun.stdout) as { token: string };
    expect(token).toMatch(/^ota-et1_[A-Za-z0-9_-]{43}$/);
    const badTtl = await ota(['fleet', 'token', '--device', 'cli-tok-2', '--ttl', '90d']);
    expect(badTtl.code).toBe(1);
    expect(badTtl.stderr.trim().split('\n')).toHaveLength(1);
    expect(badTtl.stderr).toMatch(/--ttl/);

    const acme = await makeFactoryCa('Acme CLI');
    writeFileSync(join(state, 'acme-root.pem'), acme.root.certPem);
    const added = await ota(['fleet', 'factory-ca', 'add', join(state, 'acme-root.pem'), '--name', 'Acme', '--labels', 'maker=acme', '--json']);
    expect(added.code, added.stderr).toBe(0);
    const { fingerprint } = JSON.parse(added.stdout) as { fingerprint: string };
    expect((await ota(['fleet', 'factory-ca', 'list'])).stdout).toContain(`${fingerprint}  Acme  operator accepts`);

    // The old shared token in the environment is ignored without the flag, and says so.
    const gateway = await startGateway(state, [], { OTA_ENROLLMENT_TOKEN: 'an-old-fleet-wide-token-0123456789' });
    try {
      expect(gateway.log()).toMatch(/shared enrollment token is configured but ignored/);
      expect((await postEnroll(gateway.url, enrollBody({ id: 'cli-pre-1', hardwareId: HW, key: pre }))).status).toBe(201);
      expect((await postEnroll(gateway.url, enrollBody({ id: 'cli-tok-1', hardwareId: HW, key: generateDeviceKey('ed25519') }), { authorization: `Bearer ${token}` })).status).toBe(201);
      for (const id of ['acme-1', 'acme-2']) {
        const key = generateDeviceKey('ecdsa-p256-sha256');
        expect((await postEnroll(gateway.url, enrollBody({ id, hardwareId: HW, key }, await factoryChain(acme, id, key)))).status).toBe(202);
      }
      expect((await postEnroll(gateway.url, enrollBody({ id: 'stranger', hardwareId: HW, key: generateDeviceKey('ed25519') }), { authorization: 'Bearer an-old-fleet-wide-token-0123456789' })).status).toBe(401);
    } finally {
      await gateway.stop();
    }

    expect((await ota(['fleet', 'admissions'])).stdout).toMatch(/acme-1 {2}pending/);
    expect(await ota(['fleet', 'accept', 'acme-1', '--labels', 'maker=acme', 'ring=canary'])).toMatchObject({ code: 0, stdout: `accepted acme-1 (${HW}/stable)\n` });
    expect(await ota(['fleet', 'reject', 'acme-2'])).toMatchObject({ code: 0, stdout: 'rejected acme-2\n' });
    const again = await ota(['fleet', 'accept', 'acme-2']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/not pending \(it is rejected\)/);

    const devices = JSON.parse((await ota(['fleet', 'devices', '--json'])).stdout) as Array<{ id: string; labels: Record<string, string> }>;
    expect(Object.fromEntries(devices.map((d) => [d.id, d.labels]))).toEqual({ 'acme-1': { maker: 'acme', ring: 'canary' }, 'cli-pre-1': { region: 'eu', store: 's-1' }, 'cli-tok-1': { ring: 'pilot' } });
    expect(await ota(['fleet', 'factory-ca', 'remove', fingerprint])).toMatchObject({ code: 0 });
  });

  it('--insecure-shared-token admits with the lab token and warns at start', async (ctx) => {
    if (skipReason) return ctx.skip();
    const gateway = await startGateway(state, ['--insecure-shared-token'], { OTA_ENROLLMENT_TOKEN: 'lab-token-0123456789abcdef' });
    try {
      expect(gateway.log()).toMatch(/WARNING: --insecure-shared-token/);
      expect(gateway.log()).toMatch(/INSECURE shared token/);
      expect((await postEnroll(gateway.url, enrollBody({ id: 'lab-1', hardwareId: HW, key: generateDeviceKey('ed25519') }), { authorization: 'Bearer lab-token-0123456789abcdef' })).status).toBe(201);
    } finally {
      await gateway.stop();
    }
  });
});
