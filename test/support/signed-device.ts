// Devices that talk to a real gateway over HTTP with signed check-ins and reports (stub releases:
// image digests come from the map the test publishes into), for gateway tests of rollout scope.
import { expect } from 'vitest';
import type { CheckinRequest, CheckinResponse, HealthReport } from '../../schemas/device-api.js';
import { generateDeviceKey, signPayload, type DeviceKey } from '../../schemas/device-envelope.js';
import type { FleetStore } from '../../fleet/fleet-store.js';
import { preauthorizeAndEnroll } from './admission.js';

export interface SignedDevice { id: string; key: DeviceKey; counter: number }

export interface SignedDeviceClient {
  enroll(id: string, labels?: Record<string, string>): Promise<SignedDevice>;
  checkin(device: SignedDevice, version: string): Promise<CheckinResponse>;
  report(device: SignedDevice, version: string, state: HealthReport['state'], failureKind?: HealthReport['failureKind']): Promise<void>;
}

/** `gateway()`: the running gateway and its fleet store, where each device is preauthorized with its labels before it enrolls. */
export function signedDeviceClient(gateway: () => { url: string; fleet: FleetStore }, hardwareId: string, imageSha: Record<string, string>): SignedDeviceClient {
  const baseUrl = () => gateway().url;
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${baseUrl()}${path}`, { method, headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  };
  const nonce = async (id: string) => (await call('GET', `/v1/nonce?device=${id}`)).json!.nonce as string;
  return {
    async enroll(id, labels = {}) {
      const key = generateDeviceKey('ed25519');
      await preauthorizeAndEnroll(baseUrl(), gateway().fleet, { id, hardwareId, key, labels });
      return { id, key, counter: 0 };
    },
    async checkin(device, version) {
      const body: CheckinRequest = {
        type: 'checkin', deviceId: device.id, hardwareId, currentVersion: version, imageSha256: imageSha[version]!, bootedSlot: 'A',
        securityVersion: 1, supportedDeltaFormats: [], nonce: await nonce(device.id), sentAt: '2026-03-01T10:00:00Z',
      };
      const res = await call('POST', '/v1/checkin', signPayload(body, device.key));
      expect(res.status, JSON.stringify(res.json)).toBe(200);
      return res.json as unknown as CheckinResponse;
    },
    async report(device, version, state, failureKind) {
      const body: HealthReport = {
        type: 'report', deviceId: device.id, releaseVersion: version, imageSha256: imageSha[version]!, slot: 'B', bootCount: 1, state, ...(failureKind ? { failureKind } : {}),
        metrics: { crashCount: 0, uptimeSeconds: 10, freeMemoryBytes: 1 << 20 }, custom: {}, createdAt: '2026-03-01T10:00:00Z', counter: ++device.counter, nonce: await nonce(device.id),
      };
      const res = await call('POST', '/v1/reports', signPayload(body, device.key));
      expect(res.status, JSON.stringify(res.json)).toBe(200);
    },
  };
}
