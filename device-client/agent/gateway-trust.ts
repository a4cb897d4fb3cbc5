// The gateway trust a device took from its last verified TUF walk (trust/device-trust.ts): the gateway
// answer keys and fleet CA roots that verified targets list, with the targets version that listed them,
// in stateDir/gateway-trust.json (0600). Only the check-in walk (trust-refresh.ts) writes it, and only
// after the walk verified; a verified targets without a document removes it (the device then uses its
// provisioned pins again, trust-precedence.ts). Read at every check-in and every TLS connection.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Metadata, Targets } from '@tufjs/models';
import { z } from 'zod';
import { deviceTrustOf } from '../../trust/device-trust.js';
import { readJsonFile, writeJsonFile } from '../state/json-file.js';
import type { DeviceConfig } from '../config.js';

export const GATEWAY_TRUST_FILE = 'gateway-trust.json';

/** What verified targets version `targetsVersion` lists (answerKeys at least one; fleetCaRoots may be empty). */
export interface GatewayTrust {
  targetsVersion: number;
  answerKeys: string[];
  fleetCaRoots: string[];
}

// The same bounds as the signed document (trust/device-trust.ts): the file is ours, but read strictly.
const storedSchema = z.strictObject({
  targetsVersion: z.int().min(1),
  answerKeys: z.array(z.string().max(4096)).min(1).max(4),
  fleetCaRoots: z.array(z.string().max(16384)).max(4),
  updatedAt: z.string(),
});

export const gatewayTrustPath = (config: Pick<DeviceConfig, 'stateDir'>) => join(config.stateDir, GATEWAY_TRUST_FILE);

/** The gateway trust verified targets carry, or undefined. A document a device cannot use throws TUF_MALFORMED_METADATA. */
export function gatewayTrustOf(targets: Metadata<Targets>): GatewayTrust | undefined {
  const doc = deviceTrustOf(targets);
  return doc && { targetsVersion: targets.signed.version, answerKeys: doc.answerKeys, fleetCaRoots: doc.fleetCaRoots };
}

export async function readGatewayTrust(config: Pick<DeviceConfig, 'stateDir'>): Promise<GatewayTrust | undefined> {
  const stored = await readJsonFile(gatewayTrustPath(config), storedSchema);
  return stored && { targetsVersion: stored.targetsVersion, answerKeys: stored.answerKeys, fleetCaRoots: stored.fleetCaRoots };
}

/** After a verified walk: keep what its targets list, or forget the list when they list none. */
export async function keepGatewayTrust(config: Pick<DeviceConfig, 'stateDir'>, trust: GatewayTrust | undefined, now = new Date()): Promise<void> {
  if (!trust) return rm(gatewayTrustPath(config), { force: true });
  await writeJsonFile(gatewayTrustPath(config), { ...trust, updatedAt: now.toISOString() });
}
