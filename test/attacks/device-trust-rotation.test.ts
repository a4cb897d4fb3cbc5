// Attack class: a gateway the fleet no longer trusts, or never did (issue 14, item 4: answers "signed by a
// gateway/director key listed in the device's trust metadata"). The fleet's TUF targets list the gateway
// answer keys and fleet CA roots (`ota trust device-trust`); a real agent (checkInOnce over mTLS) takes
// them from its verified walk at each check-in, in place of its provisioned pins. Real gateways
// (gateway/server.ts, two or three at once on one fleet store and one artifact store) play the fleet's
// gateway before and after a rotation, and an impostor holding a key that was never listed. A refusal has
// its own code and changes nothing on the device: slots, boot state, agent state, floor, and its stored
// trust (TUF state, the walked gateway lists, the pins).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInOnce, type AgentOptions } from '../../device-client/agent/checkin.js';
import { deviceCertificatePath, deviceGatewayClient, fleetCaPath, pinFleetCa } from '../../device-client/agent/device-certificate.js';
import { deviceTrustPath } from '../../device-client/agent/device-trust.js';
import { gatewayTrustPath, readGatewayTrust } from '../../device-client/agent/gateway-trust.js';
import { deviceStatus } from '../../device-client/agent/status.js';
import { FleetStore } from '../../fleet/fleet-store.js';
import { startGateway, type RunningGateway } from '../../gateway/server.js';
import { createFleetCa, type FleetCa } from '../../identity/fleet-ca.js';
import { issueServerCertificate } from '../../identity/issue.js';
import { generateDeviceKey, type DeviceKey } from '../../schemas/device-envelope.js';
import { LocalArtifactStore } from '../../stores/local-store.js';
import { localTrustDir } from '../../trust/local-trust.js';
import { DEVICE_TRUST_FIELD, setDeviceTrust } from '../../trust/device-trust.js';
import { signedJSON } from '../../trust/metadata.js';
import { nextTargets } from '../../trust/repository.js';
import { AttackBench, ATTACK_RELEASES } from '../support/attack-device.js';
import { sha256File } from '../support/device-releases.js';
import type { SimDevice } from '../support/device-sim.js';
import { deviceSnapshot } from '../support/device-state-snapshot.js';
import { createFleetTuf, pinRoot, type FleetTuf } from '../support/fleet-tuf.js';
import { sharedSampleReleases } from '../support/shared-releases.js';

const TOKEN = 'device-trust-rotation-token-0123';
const FAST: AgentOptions = { random: () => 0.5, enrollmentToken: TOKEN, bootCheck: false, metrics: async () => ({ bootCount: 1, metrics: { crashCount: 0, uptimeSeconds: 120, freeMemoryBytes: 64 << 20 }, custom: {} }) };

let bench: AttackBench;
let tuf: FleetTuf;
let fleet: FleetStore;
let artifacts: LocalArtifactStore;
let oldCa: FleetCa;
let newCa: FleetCa;
const running: RunningGateway[] = [];
const [oldKey, newKey, impostorKey] = Array.from({ length: 3 }, () => generateDeviceKey('ecdsa-p256-sha256'));

beforeAll(async () => {
  bench = new AttackBench(await mkdtemp(join(tmpdir(), 'ota-attack-device-trust-')), await sharedSampleReleases(ATTACK_RELEASES));
  // A store of our own: the TUF repository is written into it, the shared one stays as it is.
  const storeDir = await bench.bundleCopy('store');
  tuf = await createFleetTuf({ ...bench.fixture, storeDir });
  artifacts = new LocalArtifactStore(storeDir);
  fleet = await FleetStore.open(`pglite:${join(bench.root, 'fleet')}`);
  [oldCa, newCa] = await Promise.all([createFleetCa({ name: 'Old Fleet' }), createFleetCa({ name: 'New Fleet' })]);
}, 400_000);

afterAll(async () => {
  for (const gw of running) await gw.close();
  await fleet?.close();
  await artifacts?.close();
  await tuf?.close();
  if (bench) await rm(bench.root, { recursive: true, force: true });
});

/**
 * One of the fleet's gateways: answers signed by `answerKey`, a server certificate from `serverCa`
 * (device certificates always from the old CA, which these tests do not rotate), on the shared fleet
 * and store. `releasePolicy: rollouts` answers "none" (no rollout runs); `newest` offers 1.0.1.
 */
async function gateway(answerKey: DeviceKey, serverCa: FleetCa, releasePolicy: 'rollouts' | 'newest' = 'rollouts'): Promise<string> {
  const server = await issueServerCertificate(serverCa, { ipAddresses: ['127.0.0.1'] });
  const gw = await startGateway({
    host: '127.0.0.1', port: 0, version: 'test', fleet, store: artifacts, releasePolicy, rateLimits: false,
    insecureSharedToken: TOKEN, tls: { key: server.keyPem, cert: server.chainPem }, deviceIdentity: { ca: oldCa }, answerKey, logError: () => {},
  });
  running.push(gw);
  return gw.url;
}

/** The fleet operator's `ota trust device-trust`: a new targets version listing these keys and roots. */
async function list(answerKeys: DeviceKey[], fleetCaRoots: FleetCa[]): Promise<number> {
  const repo = await tuf.change((r) => setDeviceTrust(r, { answerKeys: answerKeys.map((k) => k.publicKeyPem), fleetCaRoots: fleetCaRoots.map((ca) => ca.root.certPem) }, tuf.signing()));
  return repo.targets.signed.version;
}

/** A device on 1.0.0 pinning TUF root 1, the old fleet CA root and `pin` as its answer key file. */
async function provisioned(id: string, pin: DeviceKey): Promise<SimDevice> {
  const pinPath = join(bench.root, `${id}-answer.pub`);
  await writeFile(pinPath, pin.publicKeyPem);
  const sim = await bench.device({ config: { deviceId: id, gatewayUrl: 'https://127.0.0.1:9', transport: { insecurePlainHttp: false }, gatewayAnswerKeyPath: pinPath } });
  await pinFleetCa(sim.config.stateDir, oldCa.root.certPem);
  await pinRoot(sim, await tuf.read());
  return sim;
}

const checkInAt = async (sim: SimDevice, url: string) => checkInOnce(await sim.open(), { ...FAST, client: deviceGatewayClient(sim.config, url) });

/** deviceSnapshot plus every trust file the device keeps: TUF state, walked gateway lists, pins, its certificate. */
async function stateOf(sim: SimDevice) {
  const trustFiles = {
    tufTrust: deviceTrustPath(sim.config),
    gatewayTrust: gatewayTrustPath(sim.config),
    tufRoot: join(localTrustDir(sim.config.trust.trustedRootPath), 'root.json'),
    fleetCa: fleetCaPath(sim.config.stateDir),
    certificate: deviceCertificatePath(sim.config.stateDir),
  };
  const digests: Record<string, string> = {};
  for (const [name, path] of Object.entries(trustFiles)) digests[name] = await sha256File(path).catch(() => 'absent');
  return { device: await deviceSnapshot(sim), trust: digests, bootedSlot: await sim.bootedSlot() };
}

/** A refused round: its code, the round offline, nothing acted on, nothing changed. */
async function expectRefused(sim: SimDevice, url: string, code: string) {
  const before = await stateOf(sim);
  const round = await checkInAt(sim, url);
  expect(round).toMatchObject({ outcome: 'offline', errorCode: code, reports: { skipped: expect.any(String) } });
  expect(round.response).toBeUndefined();
  expect(round.trust).toBeUndefined();
  expect(await stateOf(sim)).toEqual(before);
  return round;
}

describe('attack: gateway answer keys and fleet CA roots through TUF', () => {
  it('an answer key rotated via TUF: the new key accepted once listed, the old one refused once removed (GATEWAY_ANSWER_KEY_NOT_LISTED), though the device still pins it', async () => {
    const v1 = await list([oldKey!], []);
    const [oldGateway, newGateway] = [await gateway(oldKey!, oldCa), await gateway(newKey!, oldCa)];
    const sim = await provisioned('trust-rotate-keys', oldKey!);

    // First round: the provisioned pin vouches for the answer; the walk then stores the TUF list.
    const first = await checkInAt(sim, oldGateway);
    expect(first).toMatchObject({ outcome: 'nothing', response: { action: 'none' }, trust: { outcome: 'refreshed', gatewayTrust: { targetsVersion: v1, answerKeys: 1, fleetCaRoots: 0 } } });
    expect(first.errorCode).toBeUndefined();
    // The gateway switched keys before the fleet listed the new one: refused, nothing changes.
    const early = await expectRefused(sim, newGateway, 'GATEWAY_ANSWER_KEY_NOT_LISTED');
    expect(early.error).toContain(`targets version ${v1}`);

    // Overlap: both listed; the old gateway's answer carries the list to the device, then the new key works.
    const v2 = await list([oldKey!, newKey!], []);
    expect(await checkInAt(sim, oldGateway)).toMatchObject({ outcome: 'nothing', trust: { gatewayTrust: { targetsVersion: v2, answerKeys: 2 } } });
    expect(await checkInAt(sim, newGateway)).toMatchObject({ outcome: 'nothing', response: { action: 'none' } });

    // The old key leaves the list: the device follows, and refuses it although its pinned file is that key.
    const v3 = await list([newKey!], []);
    expect(await checkInAt(sim, newGateway)).toMatchObject({ outcome: 'nothing', trust: { gatewayTrust: { targetsVersion: v3, answerKeys: 1 } } });
    expect((await readGatewayTrust(sim.config))?.answerKeys).toEqual([newKey!.publicKeyPem]);
    // `ota-device status` says which keys the next check-in demands: the TUF list, not the pinned file.
    expect((await deviceStatus(await sim.open())).gatewayAnswers).toEqual({ pinned: true, listedBy: { targetsVersion: v3, keys: 1 } });
    const refused = await expectRefused(sim, oldGateway, 'GATEWAY_ANSWER_KEY_NOT_LISTED');
    expect(refused.error).toContain(`targets version ${v3}`);
    expect(await checkInAt(sim, newGateway)).toMatchObject({ outcome: 'nothing' });
  }, 180_000);

  it('a fake gateway signing with a key never listed offers an update: GATEWAY_ANSWER_KEY_NOT_LISTED, nothing installed, no boot or trust change', async () => {
    await list([newKey!], []);
    const [fleetGateway, impostor] = [await gateway(newKey!, oldCa), await gateway(impostorKey!, oldCa, 'newest')];
    // Even a device provisioned with the impostor's key as its pin: the verified list wins.
    const sim = await provisioned('trust-impostor', impostorKey!);
    await expect(checkInAt(sim, fleetGateway)).resolves.toMatchObject({ outcome: 'offline', errorCode: 'GATEWAY_ANSWER_BAD_SIGNATURE' });
    // Re-provisioned with the fleet's key, it walks once and from then on trusts the list only.
    await writeFile(sim.config.gatewayAnswerKeyPath!, newKey!.publicKeyPem);
    expect(await checkInAt(sim, fleetGateway)).toMatchObject({ outcome: 'nothing', trust: { outcome: 'refreshed' } });
    await writeFile(sim.config.gatewayAnswerKeyPath!, impostorKey!.publicKeyPem);
    await expectRefused(sim, impostor, 'GATEWAY_ANSWER_KEY_NOT_LISTED');
    const status = await sim.open().then((d) => d.agentState.read());
    expect(status.slots.B ?? null).toBeNull();
    expect(await sim.bootedSlot()).toBe('A');

    // The attack is real: a device without a TUF root that pins the impostor's key installs its offer.
    const legacy = await bench.device({ config: { deviceId: 'trust-impostor-legacy', gatewayUrl: 'https://127.0.0.1:9', transport: { insecurePlainHttp: false }, gatewayAnswerKeyPath: sim.config.gatewayAnswerKeyPath } });
    await pinFleetCa(legacy.config.stateDir, oldCa.root.certPem);
    expect(await checkInAt(legacy, impostor)).toMatchObject({ outcome: 'installed', response: { action: 'update', release: { version: '1.0.1' } } });
  }, 180_000);

  it('a fleet CA rotated via TUF: the new root accepted once listed (overlap), the old one refused once removed (GATEWAY_CERTIFICATE_UNTRUSTED), though the device still pins it', async () => {
    const v1 = await list([newKey!], [oldCa]);
    const [oldGateway, newGateway] = [await gateway(newKey!, oldCa), await gateway(newKey!, newCa)];
    const sim = await provisioned('trust-rotate-ca', newKey!);

    expect(await checkInAt(sim, oldGateway)).toMatchObject({ outcome: 'nothing', certificate: { action: 'issued' }, trust: { gatewayTrust: { targetsVersion: v1, fleetCaRoots: 1 } } });
    // A server certificate from a root not listed yet: nothing past the handshake, nothing changes.
    await expectRefused(sim, newGateway, 'GATEWAY_CERTIFICATE_UNTRUSTED');

    const v2 = await list([newKey!], [oldCa, newCa]);
    expect(await checkInAt(sim, oldGateway)).toMatchObject({ outcome: 'nothing', trust: { gatewayTrust: { targetsVersion: v2, fleetCaRoots: 2 } } });
    expect(await checkInAt(sim, newGateway)).toMatchObject({ outcome: 'nothing', certificate: { action: 'kept' } });
    expect(await checkInAt(sim, oldGateway)).toMatchObject({ outcome: 'nothing' });

    const v3 = await list([newKey!], [newCa]);
    expect(await checkInAt(sim, newGateway)).toMatchObject({ outcome: 'nothing', trust: { gatewayTrust: { targetsVersion: v3, fleetCaRoots: 1 } } });
    // The provisioned fleet-ca.pem is still the old root; the verified list no longer names it.
    await expectRefused(sim, oldGateway, 'GATEWAY_CERTIFICATE_UNTRUSTED');
    expect(await checkInAt(sim, newGateway)).toMatchObject({ outcome: 'nothing' });
  }, 180_000);

  it('a signed document listing a root a device cannot use (an intermediate): the walk is refused (TUF_MALFORMED_METADATA), the lists it had stay', async () => {
    await list([newKey!], [oldCa]);
    const fleetGateway = await gateway(newKey!, oldCa);
    const sim = await provisioned('trust-malformed', newKey!);
    expect(await checkInAt(sim, fleetGateway)).toMatchObject({ outcome: 'nothing', trust: { outcome: 'refreshed', gatewayTrust: { fleetCaRoots: 1 } } });
    const before = await stateOf(sim);
    // setDeviceTrust refuses this document; a targets key holder signing it by hand gets it past the repository.
    await tuf.change((repo) => {
      const json = signedJSON(repo.targets);
      json[DEVICE_TRUST_FIELD] = { type: 'edge-ota.device-trust.v1', answerKeys: [newKey!.publicKeyPem], fleetCaRoots: [oldCa.intermediate.certPem] };
      return nextTargets(repo, json, tuf.signing());
    });
    const round = await checkInAt(sim, fleetGateway);
    expect(round).toMatchObject({ outcome: 'nothing', trust: { outcome: 'refused', code: 'TUF_MALFORMED_METADATA', message: expect.stringContaining('not self-signed') } });
    expect(await stateOf(sim)).toEqual(before);
  }, 180_000);
});
