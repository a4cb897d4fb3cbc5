// The per-request gate of a quarantine certificate (docs/attestation.md): a device holding one may
// check in (answered with its remediation offer or a hold), report, send heartbeats, attest, fetch
// nonces and the TUF metadata that verifies a release, and download the remediation release's
// manifest, bundle and artifacts; every other request is 403 quarantine-restricted, nothing done.
import { createHash } from 'node:crypto';
import type { EnrolledDevice, FleetStore } from '../fleet/fleet-store.js';
import { readChannelIndex } from '../release/catalog.js';
import { manifestBundleKey, manifestKey } from '../release/layout.js';
import type { CheckinResponse } from '../schemas/device-api.js';
import type { ArtifactStore } from '../stores/artifact-store.js';
import { HttpError } from './http.js';

/** Endpoints a quarantine certificate reaches. Downloads are judged per key (remediationDownloads). */
export const QUARANTINE_ENDPOINTS: ReadonlySet<string> = new Set([
  '/v1/nonce',
  '/v1/checkin',
  '/v1/reports',
  '/v1/heartbeats',
  '/v1/attestation/key',
  '/v1/attestation/activate',
  '/v1/attestation/quote',
]);

const restricted = (detail: string) => new HttpError(403, 'quarantine-restricted', detail);

export function assertQuarantineEndpoint(path: string): void {
  if (!QUARANTINE_ENDPOINTS.has(path)) throw restricted(`${path} is not open to a quarantine certificate: only check-in, reports, heartbeats, attestation and the remediation release's downloads are; attest cleanly and renew the certificate`);
}

/** Every `location` string in a manifest: the image, its deltas, anything else the release points at. */
function locations(value: unknown, into: Set<string>): Set<string> {
  if (Array.isArray(value)) for (const item of value) locations(item, into);
  else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'location' && typeof inner === 'string') into.add(inner);
      else locations(inner, into);
    }
  }
  return into;
}

/** The store keys of the device's remediation release (none without an open quarantine naming one). */
export async function remediationDownloads(fleet: FleetStore, store: ArtifactStore, device: EnrolledDevice): Promise<Set<string>> {
  const version = (await fleet.openQuarantineFor(device.id))?.remediationVersion;
  if (!version) return new Set();
  const entry = (await readChannelIndex(store, device.hardwareId, device.channel)).find((e) => e.version === version);
  if (!entry) return new Set();
  const bytes = await store.getBytes(entry.manifest.location);
  if (createHash('sha256').update(bytes).digest('hex') !== entry.manifest.sha256) return new Set(); // the store disagrees with its index: serve nothing
  const keys = locations(JSON.parse(bytes.toString('utf8')) as unknown, new Set([entry.manifest.location, manifestKey(device.hardwareId, version), manifestBundleKey(device.hardwareId, version)]));
  return keys;
}

/** A download under a quarantine certificate: TUF metadata, or a key of the remediation release. */
export async function assertQuarantineDownload(fleet: FleetStore, store: ArtifactStore, deviceId: string, key: string): Promise<void> {
  if (key.startsWith('tuf/')) return; // public metadata the device needs to verify the remediation release
  const device = await fleet.getDevice(deviceId);
  if (device && (await remediationDownloads(fleet, store, device)).has(key)) return;
  throw restricted(`${key} is not part of this device's remediation release: a quarantine certificate downloads nothing else`);
}

/** The check-in answer to a quarantine certificate when no quarantine is open (in the grace, or released since): renew first. */
export function quarantineCertificateHold(pollAfterSeconds: number): CheckinResponse {
  return { action: 'hold', reason: 'this is a quarantine certificate: attest cleanly and renew it (POST /v1/certificates with a quote) before anything is offered', pollAfterSeconds };
}
