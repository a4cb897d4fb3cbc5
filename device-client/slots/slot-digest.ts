// SHA-256 of the first `length` bytes of a slot, by streaming read: verifies what was written
// (a slot is usually larger than its image, so the length comes from the manifest).
import { sha256OfFile } from '../../platform/file-sha256.js';
import type { SlotDevice } from './slot-device.js';

export async function sha256Of(slot: SlotDevice, length: number): Promise<string> {
  if (!Number.isSafeInteger(length) || length < 0) throw new Error(`length must be a non-negative integer (got ${length})`);
  const { sha256, bytes } = await sha256OfFile(slot.path, length);
  if (bytes !== length) throw new Error(`slot ${slot.slot} (${slot.path}) holds ${bytes} bytes, fewer than the ${length} to hash`);
  return sha256;
}
