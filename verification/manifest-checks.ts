// Pure checks of a signature-verified manifest against the device that would install it.
import type { Manifest, ManifestDelta } from '../schemas/manifest.js';
import { compareSemver } from '../release/semver.js';
import {
  DeltaBaseMismatchError,
  ExpiredManifestError,
  SecurityVersionDowngradeError,
  VersionDowngradeError,
  WrongChannelError,
  WrongHardwareError,
} from './errors.js';

export interface InstalledState {
  hardwareId: string;
  /** `ota verify --any-hardware`: the hardware id is not checked (a device never sets this). */
  anyHardware?: boolean;
  /** The channel the device follows: a release signed for another channel is refused (WRONG_CHANNEL). Unset: not checked. */
  channel?: string;
  /** Installed release version, if known. */
  version?: string;
  /** The stored anti-rollback counter: never goes down. */
  securityVersion?: number;
  /** sha256 of the installed image (the base a delta must start from). */
  imageSha256?: string;
}

export interface ManifestCheckOptions {
  now: Date;
  installed?: InstalledState;
  /** Allow reinstalling an older version (rollback) as long as the security version holds. */
  allowVersionDowngrade?: boolean;
}

export function checkManifestFor(manifest: Manifest, opts: ManifestCheckOptions): void {
  if (Date.parse(manifest.expires) <= opts.now.getTime()) {
    throw new ExpiredManifestError(`manifest for ${manifest.hardwareId} ${manifest.version} expired at ${manifest.expires}`);
  }
  const installed = opts.installed;
  if (!installed) return;
  if (!installed.anyHardware && manifest.hardwareId !== installed.hardwareId) {
    throw new WrongHardwareError(`manifest is for hardware ${manifest.hardwareId}, this device is ${installed.hardwareId}`);
  }
  if (installed.channel !== undefined && manifest.channel !== installed.channel) {
    throw new WrongChannelError(`release ${manifest.version} is on channel ${manifest.channel}, this device follows ${installed.channel}`);
  }
  if (installed.securityVersion !== undefined && manifest.securityVersion < installed.securityVersion) {
    throw new SecurityVersionDowngradeError(
      `release ${manifest.version} has security version ${manifest.securityVersion}, below the device's ${installed.securityVersion}`,
    );
  }
  if (!opts.allowVersionDowngrade && installed.version !== undefined && compareSemver(manifest.version, installed.version) < 0) {
    throw new VersionDowngradeError(`release ${manifest.version} is older than the installed ${installed.version}`);
  }
}

/** A delta may only be applied to the exact image it was made from. */
export function checkDeltaBase(delta: ManifestDelta, installedSha256: string | undefined): void {
  if (delta.fromSha256 !== installedSha256) {
    throw new DeltaBaseMismatchError(
      `delta from ${delta.fromVersion} starts from image sha256 ${delta.fromSha256}, but the installed image is ${installedSha256 ?? 'unknown'}`,
    );
  }
}
