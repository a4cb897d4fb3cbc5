// Calls to a running operator API as a test makes them, and a factory-identity device waiting for
// an operator's accept (what the fleet routes and the console act on).
import { generateKeyPairSync } from 'node:crypto';
import type { FleetStore } from '../../fleet/fleet-store.js';

export type OperatorCall = (method: 'GET' | 'POST', path: string, token?: string, body?: unknown) => Promise<{ status: number; body: Record<string, any> }>;

/** JSON in and out, with a bearer token when given; `baseUrl` is read at each call (the API starts in beforeAll). */
export function operatorCaller(baseUrl: () => string): OperatorCall {
  return async (method, path, token, body) => {
    const response = await fetch(`${baseUrl()}${path}`, {
      method,
      headers: { ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };
}

/** A device that presented a factory certificate and waits as `pending` (a fresh Ed25519 key). */
export function requestPendingAdmission(fleet: FleetStore, deviceId: string, hardwareId: string, factory: { factoryCa: string; certificatePem: string }) {
  const publicKeyPem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return fleet.requestAdmission({ deviceId, hardwareId, publicKeyPem, keyAlgorithm: 'ed25519', ...factory });
}
