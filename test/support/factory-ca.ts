// A manufacturer's CA standing in for a real factory: a root and an issuing CA (identity/, the same
// code as the fleet CA) that issues device certificates (IDevIDs, CN=<device id>) for device keys.
import { createFleetCa, type FleetCa } from '../../identity/fleet-ca.js';
import { issueDeviceCertificate } from '../../identity/issue.js';
import type { DeviceKey } from '../../schemas/device-envelope.js';

export async function makeFactoryCa(name: string): Promise<FleetCa> {
  return createFleetCa({ name });
}

/** The chain a device presents: its IDevID, then the manufacturer's issuing CA. */
export async function factoryChain(ca: FleetCa, deviceId: string, key: DeviceKey, options: { validityHours?: number; now?: Date } = {}): Promise<string[]> {
  const leaf = await issueDeviceCertificate(ca, { deviceId, publicKeyPem: key.publicKeyPem, validityHours: options.validityHours ?? 24 * 365, now: options.now });
  return [leaf.certPem, `${ca.intermediate.certPem.trim()}\n`];
}
