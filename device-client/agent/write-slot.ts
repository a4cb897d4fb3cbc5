// Streams a staged image into the inactive slot (never the booted one: SlotDevice refuses), checking
// the raw bytes against the manifest while they flow, then re-reads the slot and checks its sha256
// over the image length: only an image proven on disk may be activated.
import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ArtifactMismatchError } from '../../verification/errors.js';
import type { SlotName } from '../boot/boot-state.js';
import { sha256Of } from '../slots/slot-digest.js';
import type { SlotDevice } from '../slots/slot-device.js';
import type { SlotImage } from './agent-state.js';
import { crashPoint } from './crash-points.js';
import { decompressor, type StagedImage } from './stage-artifact.js';
import { VerifyingStream } from './verifying-stream.js';

export async function writeImageToSlot(staged: StagedImage, image: SlotImage, slot: SlotDevice, booted: SlotName): Promise<void> {
  const capacity = await slot.capacity();
  if (capacity !== undefined && image.length > capacity) {
    throw new ArtifactMismatchError(`image ${image.version} is ${image.length} bytes, larger than slot ${slot.slot} (${capacity} bytes)`);
  }
  const sink = await slot.openForWrite(booted);
  await pipeline([
    createReadStream(staged.path, { highWaterMark: 1 << 20 }),
    ...decompressor(staged.compression),
    new VerifyingStream({ name: `image ${image.version}`, sha256: image.sha256, length: image.length }),
    halfwayCrashPoint(image.length),
    sink,
  ]);
  const written = await sha256Of(slot, image.length);
  if (written !== image.sha256) {
    throw new ArtifactMismatchError(`slot ${slot.slot} reads back sha256 ${written} after writing, expected ${image.sha256}`);
  }
}

/** Lets the power-cut harness kill the agent with the slot half written. */
function halfwayCrashPoint(length: number): Transform {
  let seen = 0;
  let passed = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (!passed && seen >= length / 2) {
        passed = true;
        callback(null, chunk);
        // After handing over this chunk, so some of the image is in the slot when the kill lands.
        setImmediate(() => crashPoint('install:slot-half-written'));
        return;
      }
      callback(null, chunk);
    },
  });
}
