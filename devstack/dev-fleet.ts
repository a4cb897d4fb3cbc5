// The simulated devices of `ota dev devices`: N protocol-level devices (sim/) admitted at the running
// stack's gateway the way an operator admits real ones (each device's own key preauthorized in the
// fleet database first, no shared token), starting on a published release whose signed manifest they
// verify against the stack's trust root. Then, every round until stopped: a signed check-in, installing
// what the gateway offers (the offered manifest verified, the artifact's bytes fetched and checked),
// reports, and a heartbeat. The status of each round goes to <state>/dev/devices.json.
import { FleetStore } from '../fleet/fleet-store.js';
import { manifestBundleKey, manifestKey } from '../release/layout.js';
import { readTrustRoot } from '../signing/trust-root.js';
import type { InstalledImage } from '../sim/protocol-device.js';
import { preauthorizationsOf, ProtocolFleet, simIdentities } from '../sim/protocol-fleet.js';
import { NotFoundError } from '../stores/errors.js';
import type { ArtifactStore } from '../stores/artifact-store.js';
import { policyFor, verifySignedManifest } from '../verification/verify-manifest.js';
import { DEV_FLEET_SERVICE, writeDevFleetStatus, type DevFleetStatus } from './dev-fleet-status.js';
import { processStartTime } from './processes.js';
import type { StackDefinition } from './stackFile.js';
import { logPath, readState, writeState } from './state.js';

/** The stack file's service the devices talk to. */
export const GATEWAY_SERVICE = 'gateway';

export interface DevFleetOptions {
  stateDir: string;
  count: number;
  version: string;
  hardwareId: string;
  channel: string;
  idPrefix: string;
  everySeconds: number;
  gatewayUrl: string;
  fleetDatabaseUrl: string;
  store: ArtifactStore;
  trustRootPath: string;
  /** Aborting ends the rounds (SIGTERM from `ota dev down`, Ctrl-C in the foreground). */
  signal: AbortSignal;
  /** Progress lines for people. */
  say: (line: string) => void;
}

/** At most this many devices talk to the gateway at once: the dev stack shares two cores with everything else. */
const CONCURRENCY = 4;

export async function runDevFleet(opts: DevFleetOptions): Promise<void> {
  const identities = simIdentities({ count: opts.count, idPrefix: opts.idPrefix });
  const status: DevFleetStatus = {
    state: 'enrolling',
    pid: process.pid,
    startTime: processStartTime(process.pid),
    hardwareId: opts.hardwareId,
    channel: opts.channel,
    gatewayUrl: opts.gatewayUrl,
    count: opts.count,
    ids: { first: identities[0]!.id, last: identities.at(-1)!.id },
    everySeconds: opts.everySeconds,
    startedAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    rounds: 0,
    versions: {},
    errors: 0,
  };
  const save = () => writeDevFleetStatus(opts.stateDir, { ...status, updatedAt: new Date().toISOString() });
  save();
  recordProcess(opts.stateDir, status);
  try {
    const trustRoot = await readTrustRoot(opts.trustRootPath);
    const factory = await verifiedFactoryImage(opts, trustRoot);
    opts.say(`admitting ${opts.count} devices: preauthorizing each device's own key for ${opts.hardwareId}/${opts.channel} in the fleet database`);
    const preauthorize = async () => {
      const fleet = await FleetStore.open(opts.fleetDatabaseUrl);
      try {
        const refused = await fleet.preauthorizeAll(preauthorizationsOf(identities, opts.hardwareId, opts.channel));
        if (refused.length) throw new Error(`already enrolled, not preauthorized: ${refused.slice(0, 3).join(', ')}; choose another --prefix`);
      } finally {
        await fleet.close();
      }
    };
    let enrolled = false;
    const fleet = await ProtocolFleet.enroll({
      count: opts.count,
      hardwareId: opts.hardwareId,
      channel: opts.channel,
      gatewayUrl: opts.gatewayUrl,
      identities,
      preauthorize,
      trustRoot,
      factory,
      concurrency: CONCURRENCY,
      // Enrollment must succeed for every device; afterwards a failed conversation waits for the next round.
      onDeviceError: (deviceId, error) => {
        if (!enrolled) throw error;
        status.errors++;
        status.lastError = `${deviceId}: ${firstLine(error)}`;
        opts.say(`${status.lastError} (retried next round)`);
      },
    });
    enrolled = true;
    status.state = 'running';
    status.versions = fleet.versions();
    save();
    opts.say(`enrolled ${opts.count} devices (${status.ids.first} .. ${status.ids.last}) on ${opts.hardwareId} ${opts.version} at ${opts.gatewayUrl}; checking in every ${opts.everySeconds}s`);

    while (!opts.signal.aborted) {
      const outcomes = await fleet.tick(() => ({ result: 'commit' }));
      outcomes.forEach((o, i) => {
        const id = fleet.devices[i]!.id;
        if (o?.action === 'updated' || o?.action === 'rolled-back') opts.say(`${id}: ${o.action} ${o.from} -> ${o.to}`);
        else if (o?.action === 'failed') opts.say(`${id}: install of ${o.version} failed (${o.kind})`);
      });
      await fleet.heartbeats();
      status.rounds++;
      status.versions = fleet.versions();
      save();
      await sleep(opts.everySeconds * 1000, opts.signal);
    }
    status.state = 'stopped';
    status.reason = 'stopped on request';
    save();
    opts.say(`stopped after ${status.rounds} rounds: ${Object.entries(status.versions).map(([v, n]) => `${n} on ${v}`).join(', ')}`);
  } catch (error) {
    status.state = 'failed';
    status.reason = firstLine(error);
    save();
    throw error;
  } finally {
    forgetProcess(opts.stateDir, status.pid);
  }
}

/** The release the devices start on: its signed manifest, verified against the stack's trust root as a device does. */
async function verifiedFactoryImage(opts: DevFleetOptions, trustRoot: Awaited<ReturnType<typeof readTrustRoot>>): Promise<InstalledImage> {
  let manifestBytes: Buffer;
  let bundle: Buffer;
  try {
    [manifestBytes, bundle] = await Promise.all([opts.store.getBytes(manifestKey(opts.hardwareId, opts.version)), opts.store.getBytes(manifestBundleKey(opts.hardwareId, opts.version))]);
  } catch (error) {
    if (error instanceof NotFoundError) throw new Error(`${opts.hardwareId} ${opts.version} is not published in the stack's store; publish it first (ota release publish --image F --version ${opts.version} --hardware ${opts.hardwareId})`);
    throw error;
  }
  const { manifest } = await verifySignedManifest({ manifestBytes, bundle: bundle.toString('utf8'), trustRoot, policy: policyFor(trustRoot) });
  return { version: manifest.version, imageSha256: manifest.image.sha256, securityVersion: manifest.securityVersion };
}

/** In <state>/dev/state.json beside the services, so `ota dev down` stops the devices first (they are not in the stack file). */
function recordProcess(stateDir: string, status: DevFleetStatus): void {
  const state = readState(stateDir, '');
  state.services[DEV_FLEET_SERVICE] = { pid: status.pid, startTime: status.startTime, startedAt: status.startedAt, log: logPath(stateDir, DEV_FLEET_SERVICE), mode: 'process' };
  writeState(stateDir, state);
}

function forgetProcess(stateDir: string, pid: number): void {
  const state = readState(stateDir, '');
  if (state.services[DEV_FLEET_SERVICE]?.pid !== pid) return;
  delete state.services[DEV_FLEET_SERVICE];
  writeState(stateDir, state);
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 300);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** The stack's device gateway: its readiness probe's origin (loopback, the port the file chose). */
export function stackGatewayUrl(stack: StackDefinition): string | undefined {
  for (const probe of stack.services.get(GATEWAY_SERVICE)?.native.ready ?? []) {
    if ('http' in probe && typeof probe.http === 'string') return new URL(probe.http).origin;
  }
  return undefined;
}
