// The measured boot of a release, computed ahead of time: what a measured bootloader extends into
// the boot PCR when it boots this release's image, so the verifier can compare a TPM quote with it.
// Two events, in order, into a PCR that starts at zeros (a resettable PCR, or a fresh power-on):
//   1. sha256 of the slot's image bytes (the raw image the manifest names)
//   2. sha256 of the boot configuration document (canonical JSON, bootConfigDocument)
// PCR_new = sha256(PCR_old || event), as TPM2_PCR_Extend does for the sha256 bank.
// The device side (device-client/boot/measured-boot.ts) extends the same events into its TPM.
import { createHash } from 'node:crypto';
import { canonicalJsonBytes, type BootMeasurement } from '../schemas/manifest.js';

/** The PCR the A/B boot path measures into by default: 16 (debug, resettable; docs/attestation.md says why and what real bootloaders use). */
export const DEFAULT_BOOT_PCR = 16;

export const BOOT_CONFIG_FORMAT = 'edge-ota.boot-config.v1';

export interface BootedRelease {
  hardwareId: string;
  version: string;
  /** sha256 of the raw image in the slot. */
  imageSha256: string;
}

/** The boot configuration a release boots with (on hardware: the GRUB config or U-Boot script it ships). */
export function bootConfigDocument(release: BootedRelease): { format: string; hardwareId: string; version: string } {
  return { format: BOOT_CONFIG_FORMAT, hardwareId: release.hardwareId, version: release.version };
}

/** The digests the bootloader extends, in order (hex). */
export function bootEvents(release: BootedRelease): string[] {
  const config = createHash('sha256').update(canonicalJsonBytes(bootConfigDocument(release))).digest('hex');
  return [release.imageSha256, config];
}

export function extendPcr(pcrHex: string, eventHex: string): string {
  return createHash('sha256').update(Buffer.from(pcrHex, 'hex')).update(Buffer.from(eventHex, 'hex')).digest('hex');
}

/** The value the boot PCR holds after booting this release from a reset PCR. */
export function expectedBootPcr(release: BootedRelease): string {
  return bootEvents(release).reduce(extendPcr, '00'.repeat(32));
}

/** The manifest's bootMeasurement for a release (the default boot PCR). */
export function releaseBootMeasurement(release: BootedRelease): BootMeasurement {
  return { pcr: DEFAULT_BOOT_PCR, bank: 'sha256', value: expectedBootPcr(release) };
}
