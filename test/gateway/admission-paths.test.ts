// The three admission paths end to end: the device agent's enrollment (device-client/agent/enroll.ts)
// against a real gateway and fleet store (PGlite) over HTTP. Preauthorization, a single-use
// per-device token, a factory identity (pending until accepted, or auto-accepted by its CA policy).
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { enrollDevice, deviceKeyFor } from '../../device-client/agent/enroll.js';
import { enrollmentTokenPath, installFactoryIdentity, readFactoryIdentity, storeEnrollmentToken } from '../../device-client/agent/enrollment-credentials.js';
import { parseDeviceConfig, type DeviceConfig } from '../../device-client/config.js';
import { GatewayRefusedError } from '../../device-client/gateway/gateway-client.js';
import { certificateFingerprint } from '../../gateway/factory-identity.js';
import { generateDeviceKey, signPayload, type DeviceKey } from '../../schemas/device-envelope.js';
import { factoryChain, makeFactoryCa } from '../support/factory-ca.js';
import { useTempGateway } from '../support/temp-gateway.js';

const HW = 'gw-adm';
const env = useTempGateway('ota-admission-paths-');

async function deviceConfig(deviceId: string): Promise<DeviceConfig> {
  const dir = join(env.root, 'devices', deviceId);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // The device's own labels and channel in its config are never sent: the operator's count.
  return parseDeviceConfig({ deviceId, hardwareId: HW, gatewayUrl: env.gateway.url, channel: 'beta', labels: { ring: 'canary' }, slots: { A: 'a.img', B: 'b.img' }, bootloader: { kind: 'state-file', path: 'boot-state.json' }, trust: { trustedRootPath: 'trusted_root.json' }, stateDir: 'state', enrollment: { keyAlgorithm: 'ecdsa-p256-sha256' }, transport: { insecurePlainHttp: true } }, dir);
}

async function refusedCode(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(GatewayRefusedError);
  return (error as GatewayRefusedError).code;
}

/** Does the gateway hand this device a nonce? (403 device-pending / unknown-device otherwise.) */
const nonceStatus = async (id: string) => {
  const res = await fetch(`${env.gateway.url}/v1/nonce?device=${id}`);
  return { status: res.status, error: res.ok ? undefined : ((await res.json()) as { error: string }).error };
};

describe('admission paths', () => {
  it('(a) preauthorization: the operator names id, key, hardware and selectors first; the device enrolls with no token and gets exactly those', async () => {
    const config = await deviceConfig('pre-1');
    const key = await deviceKeyFor(config);
    expect(await refusedCode(enrollDevice(config))).toBe('not-preauthorized');
    expect(await env.fleet.getDevice('pre-1')).toBeUndefined();
    await env.fleet.preauthorize({ deviceId: 'pre-1', hardwareId: HW, channel: 'stable', labels: { region: 'eu', store: 's-7' }, publicKeyPem: key.publicKeyPem, keyAlgorithm: key.algorithm });
    expect(await enrollDevice(config)).toMatchObject({ status: 'admitted', deviceId: 'pre-1', created: true });
    expect(await env.fleet.getDevice('pre-1')).toMatchObject({ channel: 'stable', labels: { region: 'eu', store: 's-7' } });
    expect(await enrollDevice(config)).toMatchObject({ status: 'admitted', created: false });
    expect((await nonceStatus('pre-1')).status).toBe(200);
  });

  it('(c) a single-use token for one device: provisioned 0600, admits with the token\'s selectors, then is gone', async () => {
    const config = await deviceConfig('tok-1');
    const { token } = await env.fleet.createEnrollmentToken({ deviceId: 'tok-1', ttlSeconds: 3600, channel: 'beta', labels: { ring: 'pilot' }, hardwareId: HW });
    await mkdir(config.stateDir, { recursive: true, mode: 0o700 });
    await storeEnrollmentToken(config.stateDir, token);
    expect((await stat(enrollmentTokenPath(config.stateDir))).mode & 0o777).toBe(0o600);
    expect(await enrollDevice(config)).toMatchObject({ status: 'admitted', created: true });
    expect(await env.fleet.getDevice('tok-1')).toMatchObject({ channel: 'beta', labels: { ring: 'pilot' } });
    await expect(stat(enrollmentTokenPath(config.stateDir))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  /** A device made at the Acme factory: its key and IDevID chain installed as `ota-device provision --factory-cert/--factory-key` does. */
  async function factoryDevice(ca: Awaited<ReturnType<typeof makeFactoryCa>>, id: string): Promise<DeviceConfig> {
    const config = await deviceConfig(id);
    const key = generateDeviceKey('ecdsa-p256-sha256');
    const keyFile = join(env.root, `${id}.key.pem`);
    await writeFile(keyFile, key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
    await mkdir(config.stateDir, { recursive: true, mode: 0o700 });
    await installFactoryIdentity(config.stateDir, await readFactoryIdentity(keyFile, (await factoryChain(ca, id, key)).join(''), `${id}.chain.pem`));
    return config;
  }

  it('(b) factory identity: pending (no nonce, no check-in: device-pending) until `accept`; reject refuses for good', async () => {
    const acme = await makeFactoryCa('Acme Devices');
    await env.fleet.addFactoryCa({ fingerprint: certificateFingerprint(acme.root.certPem), name: 'Acme', certificatePem: acme.root.certPem, autoAccept: null, channel: 'stable', labels: { maker: 'acme' } });
    const config = await factoryDevice(acme, 'acme-0001');
    expect(await enrollDevice(config)).toMatchObject({ status: 'pending', deviceId: 'acme-0001' });
    expect(await enrollDevice(config)).toMatchObject({ status: 'pending' }); // asking again changes nothing
    expect(await env.fleet.admissionState('acme-0001')).toBe('pending');
    expect(await nonceStatus('acme-0001')).toEqual({ status: 403, error: 'device-pending' });
    // A check-in signed by the pending device's key is refused the same way.
    const key = await deviceKeyFor(config);
    const checkin = { type: 'checkin', deviceId: 'acme-0001', hardwareId: HW, currentVersion: null, imageSha256: 'a'.repeat(64), bootedSlot: 'A', securityVersion: 0, supportedDeltaFormats: [], nonce: 'n'.repeat(43), sentAt: new Date().toISOString() };
    const res = await fetch(`${env.gateway.url}/v1/checkin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(signPayload(checkin, key as DeviceKey)) });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'device-pending' });

    expect(await env.fleet.acceptDevice('acme-0001', { labels: { maker: 'acme', ring: 'pilot' } })).toMatchObject({ kind: 'accepted' });
    expect(await enrollDevice(config)).toMatchObject({ status: 'admitted', created: false });
    expect(await env.fleet.getDevice('acme-0001')).toMatchObject({ channel: 'stable', labels: { maker: 'acme', ring: 'pilot' } });
    expect((await nonceStatus('acme-0001')).status).toBe(200);

    const rejected = await factoryDevice(acme, 'acme-0002');
    expect(await enrollDevice(rejected)).toMatchObject({ status: 'pending' });
    expect(await env.fleet.rejectDevice('acme-0002')).toBe(true);
    expect(await refusedCode(enrollDevice(rejected))).toBe('device-rejected');
    expect(await nonceStatus('acme-0002')).toEqual({ status: 403, error: 'device-rejected' });
    expect(await env.fleet.getDevice('acme-0002')).toBeUndefined();
  });

  it('(b) a factory CA policy naming a device-id pattern admits matching devices at once, with the policy\'s selectors', async () => {
    const globex = await makeFactoryCa('Globex');
    await env.fleet.addFactoryCa({ fingerprint: certificateFingerprint(globex.intermediate.certPem), name: 'Globex', certificatePem: globex.intermediate.certPem, autoAccept: 'globex-sensor-*', channel: 'beta', labels: { maker: 'globex' } });
    expect(await enrollDevice(await factoryDevice(globex, 'globex-sensor-17'))).toMatchObject({ status: 'admitted', created: true });
    expect(await env.fleet.getDevice('globex-sensor-17')).toMatchObject({ channel: 'beta', labels: { maker: 'globex' } });
    expect(await enrollDevice(await factoryDevice(globex, 'globex-camera-3'))).toMatchObject({ status: 'pending' });
  });
});
