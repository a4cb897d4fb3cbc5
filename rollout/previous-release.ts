// Which release does a rollback return to? The one the targeted devices run, not the one published
// just below the new release (they may never have run that). When they run several, the most
// common one that is published, not gated and allowed by anti-rollback wins, and the plan says so.
// With no device reporting a version yet, the highest published, ungated release below the new one. Pure.
import type { ReleaseIndexEntry } from '../schemas/manifest.js';
import { compareSemver } from '../release/semver.js';
import { rollbackEligibility, type RollbackEligibility } from './rollback-eligibility.js';

export interface RunningVersion {
  /** null: the device has not told us what it runs. */
  version: string | null;
  devices: number;
}

export interface PreviousChoice<E> {
  previous: E | undefined;
  eligibility: RollbackEligibility;
  /** Set when the targeted devices run more than one earlier release, or none we know of. */
  note?: string;
}

type Entry = Pick<ReleaseIndexEntry, 'version' | 'securityVersion'>;

export function choosePreviousRelease<E extends Entry>(
  release: { version: string; securityVersion: number },
  running: readonly RunningVersion[],
  published: readonly E[],
  gated: ReadonlySet<string>,
): PreviousChoice<E> {
  const usable = (version: string) => (gated.has(version) ? undefined : published.find((e) => e.version === version));
  const earlier = running
    .filter((r): r is RunningVersion & { version: string } => r.version !== null && r.version !== release.version && r.devices > 0)
    .sort((a, b) => b.devices - a.devices || compareSemver(b.version, a.version));
  const judged = earlier.flatMap((r) => {
    const entry = usable(r.version);
    return entry ? [{ entry, eligibility: rollbackEligibility(release.version, release.securityVersion, entry) }] : [];
  });
  const chosen = judged.find((j) => j.eligibility.allowed) ?? judged[0];
  if (!chosen) {
    const below = published.filter((e) => !gated.has(e.version) && compareSemver(e.version, release.version) < 0).sort((a, b) => compareSemver(b.version, a.version))[0];
    const note = earlier.length === 0 ? 'no targeted device reports an earlier release; rollback returns to the highest published one below' : `the targeted devices run ${describe(earlier)}, none published and ungated; rollback returns to the highest published one below`;
    return { previous: below, eligibility: rollbackEligibility(release.version, release.securityVersion, below), note };
  }
  return {
    previous: chosen.entry,
    eligibility: chosen.eligibility,
    ...(earlier.length > 1 ? { note: `the targeted devices run ${describe(earlier)}; rollback returns to ${chosen.entry.version}, each device to its own earlier release where it is published` } : {}),
  };
}

function describe(running: ReadonlyArray<{ version: string; devices: number }>): string {
  return running.map((r) => `${r.version} (${r.devices})`).join(', ');
}
