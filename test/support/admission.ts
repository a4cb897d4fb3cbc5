// Admitting test devices the way an operator and a device do (docs/device-api.md "Admission"): the
// operator preauthorizes the device's key with its selectors in the fleet store, then the device
// posts its signed enroll body (proof of possession) over HTTP to the real gateway.
import type { FleetStore } from '../../fleet/fleet-store.js';
import type { EnrollRequest, Labels } from '../../schemas/device-api.js';
import type { DeviceKey } from '../../schemas/device-envelope.js';
import { signEnrollClaim } from '../../schemas/enroll-proof.js';

export interface TestAdmission {
  id: string;
  hardwareId: string;
  key: DeviceKey;
  channel?: string;
  labels?: Labels;
}

/** The enroll body the device agent sends: its id, hardware and key, signed by that key. */
export function enrollBody(device: Pick<TestAdmission, 'id' | 'hardwareId' | 'key'>, factoryChain?: string[]): EnrollRequest {
  const { id, hardwareId, key } = device;
  return signEnrollClaim({ type: 'enroll', deviceId: id, hardwareId, publicKey: { algorithm: key.algorithm, pem: key.publicKeyPem }, ...(factoryChain && { factoryChain }) }, key);
}

export async function preauthorizeDevice(fleet: FleetStore, device: TestAdmission): Promise<void> {
  const { id, hardwareId, key } = device;
  const ok = await fleet.preauthorize({ deviceId: id, hardwareId, channel: device.channel ?? 'stable', labels: device.labels ?? {}, publicKeyPem: key.publicKeyPem, keyAlgorithm: key.algorithm });
  if (!ok) throw new Error(`${id} is already enrolled`);
}

export async function postEnroll(gatewayUrl: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json?: Record<string, unknown> }> {
  const res = await fetch(`${gatewayUrl}/v1/enroll`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

/** Preauthorizes the device, then enrolls it over HTTP; throws unless the gateway admitted it (201). */
export async function preauthorizeAndEnroll(gatewayUrl: string, fleet: FleetStore, device: TestAdmission): Promise<void> {
  await preauthorizeDevice(fleet, device);
  const res = await postEnroll(gatewayUrl, enrollBody(device));
  if (res.status !== 201) throw new Error(`enroll ${device.id}: HTTP ${res.status} ${JSON.stringify(res.json)}`);
}
