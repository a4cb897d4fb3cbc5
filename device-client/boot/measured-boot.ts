// Measured boot of the A/B path, as a measured bootloader does it: at power-on the boot PCR starts
// from zeros, then the digest of the booted slot's image and of its boot configuration are extended
// into it (the same two events release/boot-measurement.ts predicts for each release). On real
// hardware this is the bootloader's job (GRUB's tpm module, U-Boot's measured boot): docs/attestation.md.
import { bootEvents, type BootedRelease } from '../../release/boot-measurement.js';
import type { SlotDevice } from '../slots/slot-device.js';
import { sha256Of } from '../slots/slot-digest.js';
import { extendPcr, resetPcr } from '../tpm/tpm-pcr.js';
import type { TpmConnection } from '../tpm/tpm-tool.js';

/** Extends the boot events of what is in the slot (its bytes hashed now, not a recorded digest). */
export async function measureBoot(tpm: TpmConnection, pcr: number, slot: SlotDevice, booted: { hardwareId: string; version: string; length: number }): Promise<BootedRelease> {
  const release: BootedRelease = { hardwareId: booted.hardwareId, version: booted.version, imageSha256: await sha256Of(slot, booted.length) };
  await resetPcr(tpm, pcr);
  for (const event of bootEvents(release)) await extendPcr(tpm, pcr, event);
  return release;
}
