// RFC 4122 name-based UUID (version 5, SHA-1): same seed -> same BOM serial number,
// so re-running the pipeline on the same inputs gives byte-identical documents.
import { v5 } from 'uuid';

// Fixed namespace for edge-ota documents (a random v4 UUID chosen once).
export const EDGE_OTA_NAMESPACE = '5d0f7c0e-3b8a-4c1e-9a57-2f6d8e1b4a90';

export function uuidV5(name: string, namespace = EDGE_OTA_NAMESPACE): string {
  return v5(name, namespace);
}

export function urnUuid(name: string): string {
  return `urn:uuid:${uuidV5(name)}`;
}
