// May a breaching ring send its devices back to the previous release? Not when there is none, and
// not when the new release raised the security version: devices refuse to go below a stored one.
import type { ReleaseIndexEntry } from '../schemas/manifest.js';

export interface RollbackEligibility {
  allowed: boolean;
  /** Why not, in words for the decision log; undefined when allowed. */
  blockedReason?: string;
}

export function rollbackEligibility(
  releaseVersion: string,
  releaseSecurityVersion: number,
  previous: Pick<ReleaseIndexEntry, 'version' | 'securityVersion'> | undefined,
): RollbackEligibility {
  if (!previous) return { allowed: false, blockedReason: 'there is no earlier release to return to' };
  if (releaseSecurityVersion > previous.securityVersion) {
    return {
      allowed: false,
      blockedReason: `${releaseVersion} raised the security version to ${releaseSecurityVersion} (from ${previous.securityVersion}); devices refuse to go below it`,
    };
  }
  return { allowed: true };
}
