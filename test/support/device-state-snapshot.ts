// What "no state change" means on a device, for refusal tests: the bytes of both slots, the boot
// state, the agent state, the anti-rollback floor record and the pinned trust root, and the stored
// security version and install journal as the agent reads them.
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleToText } from '../../signing/bundle-json.js';
import { generateSigningKeyPem, signingKeyFromPem, type SigningKey } from '../../signing/keys.js';
import { signBlob } from '../../signing/message-signature.js';
import { pinPublicKeyInFile } from '../../signing/trust-root.js';
import { agentStatePath, securityFloorPath } from '../../device-client/agent/agent-state.js';
import { deviceStatus } from '../../device-client/agent/status.js';
import { floorResetStatementBytes, type FloorResetStatement } from '../../device-client/state/floor-reset.js';
import type { PublishedFixture, SampleRelease } from './device-releases.js';
import type { SimDevice } from './device-sim.js';

const digestOrAbsent = async (path: string) =>
  readFile(path).then(
    (bytes) => createHash('sha256').update(bytes).digest('hex'),
    () => 'absent',
  );

export interface DeviceSnapshot {
  files: Record<string, string>;
  securityVersion: number | string;
  journal: unknown;
}

export async function deviceSnapshot(sim: SimDevice): Promise<DeviceSnapshot> {
  const { config } = sim;
  const paths = {
    slotA: config.slots.A,
    slotB: config.slots.B,
    boot: sim.bootStatePath,
    agentState: agentStatePath(config.stateDir),
    floor: config.securityFloorPath ?? securityFloorPath(config.stateDir),
    trustRoot: config.trust.trustedRootPath,
  };
  const files: Record<string, string> = {};
  for (const [name, path] of Object.entries(paths)) files[name] = await digestOrAbsent(path);
  const status = await deviceStatus(await sim.open()).catch((error: Error & { code?: string }) => error.code ?? error.message);
  return typeof status === 'string' ? { files, securityVersion: status, journal: status } : { files, securityVersion: status.securityVersion, journal: status.installInProgress };
}

/**
 * A device fixture without the release pipeline, for refusals that come before any release is
 * verified: a random factory image, and a trust root pinning a fresh key (the "release key" an
 * operator signs reset statements with).
 */
export async function unsignedFixture(root: string): Promise<{ fixture: PublishedFixture; factory: SampleRelease; releaseKey: SigningKey }> {
  const imagePath = join(root, 'factory.img');
  const image = randomBytes(64 * 1024);
  await writeFile(imagePath, image);
  const trustedRootPath = join(root, 'trusted_root.json');
  await writeFile(trustedRootPath, '{}\n');
  const releaseKey = signingKeyFromPem(generateSigningKeyPem());
  await pinPublicKeyInFile(trustedRootPath, releaseKey.publicKey);
  const factory: SampleRelease = { version: '1.0.0', securityVersion: 1, imagePath, sha256: createHash('sha256').update(image).digest('hex'), length: image.length, manifest: undefined as never };
  return { fixture: { storeDir: join(root, 'none'), trustedRootPath, signingKeyPath: join(root, 'none.pem'), releases: { '1.0.0': factory } }, factory, releaseKey };
}

/** Writes a reset statement and its bundle signed with `key`; returns the statement's path. */
export async function signFloorReset(path: string, key: SigningKey, statement: Omit<FloorResetStatement, 'format'>): Promise<string> {
  const bytes = floorResetStatementBytes(statement);
  await writeFile(path, bytes);
  await writeFile(`${path}.sigstore.json`, bundleToText(await signBlob({ bytes }, { mode: 'key', key })));
  return path;
}
