// SHA-256 of the first `length` bytes of a slot, by streaming read: verifies what was written
// (a slot is usually larger than its image, so the length comes from the manifest).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { SlotDevice } from './slot-device.js';

export async function sha256Of(slot: SlotDevice, length: number): Promise<string> {
  if (!Number.isSafeInteger(length) || length < 0) throw new Error(`length must be a non-negative integer (got ${length})`);
  const hash = createHash('sha256');
  let read = 0;
  if (length > 0) {
    for await (const chunk of createReadStream(slot.path, { start: 0, end: length - 1, highWaterMark: 1 << 20 })) {
      hash.update(chunk as Buffer);
      read += (chunk as Buffer).length;
    }
  }
  if (read !== length) throw new Error(`slot ${slot.slot} (${slot.path}) holds ${read} bytes, fewer than the ${length} to hash`);
  return hash.digest('hex');
}
