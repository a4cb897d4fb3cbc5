// RFC 4122 name-based UUID (version 5, SHA-1): same seed -> same BOM serial number,
// so re-running the pipeline on the same inputs gives byte-identical documents.
import { createHash } from 'node:crypto';

// Fixed namespace for edge-ota documents (a random v4 UUID chosen once).
export const EDGE_OTA_NAMESPACE = '5d0f7c0e-3b8a-4c1e-9a57-2f6d8e1b4a90';

export function uuidV5(name: string, namespace = EDGE_OTA_NAMESPACE): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const bytes = createHash('sha1').update(ns).update(name, 'utf8').digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function urnUuid(name: string): string {
  return `urn:uuid:${uuidV5(name)}`;
}
