// Which on-demand deltas garbage collection removes (docs/deltas.md, "Garbage collection"). Pure: the
// caller gathers the ready deltas and every location the published manifests list, then carries out
// the answer. A delta goes when it was not used (offered to a check-in) for `olderThanMs` and it is
// not among the `keepPerRelease` most recently used of its release; a delta whose bytes a manifest
// lists (the same content address) is never removed.

export interface CollectableDelta {
  hardwareId: string;
  toVersion: string;
  fromVersion: string;
  fromSha256: string;
  format: string;
  location: string | null;
  /** Last offered to a check-in; null: never offered since it became ready. */
  lastUsedAt: Date | null;
  readyAt: Date | null;
}

export interface CollectPolicy {
  now: Date;
  olderThanMs: number;
  keepPerRelease: number;
}

export interface CollectDecision<D extends CollectableDelta> {
  remove: D[];
  keep: Array<{ delta: D; why: string }>;
}

const lastUse = (d: CollectableDelta) => (d.lastUsedAt ?? d.readyAt ?? new Date(0)).getTime();

export function chooseDeltasToCollect<D extends CollectableDelta>(deltas: readonly D[], policy: CollectPolicy, manifestLocations: ReadonlySet<string>): CollectDecision<D> {
  const cutoff = policy.now.getTime() - policy.olderThanMs;
  const byRelease = new Map<string, D[]>();
  for (const d of deltas) {
    const key = `${d.hardwareId}\u0000${d.toVersion}`;
    byRelease.set(key, [...(byRelease.get(key) ?? []), d]);
  }
  const decision: CollectDecision<D> = { remove: [], keep: [] };
  for (const group of byRelease.values()) {
    const newestFirst = [...group].sort((a, b) => lastUse(b) - lastUse(a));
    newestFirst.forEach((d, rank) => {
      if (d.location && manifestLocations.has(d.location)) decision.keep.push({ delta: d, why: 'a manifest lists these bytes' });
      else if (rank < policy.keepPerRelease) decision.keep.push({ delta: d, why: `among the ${policy.keepPerRelease} most recently used of ${d.toVersion}` });
      else if (lastUse(d) >= cutoff) decision.keep.push({ delta: d, why: `used since ${new Date(cutoff).toISOString()}` });
      else decision.remove.push(d);
    });
  }
  return decision;
}

/** "30d", "12h", "90m", "45s" as milliseconds; anything else is refused with a clear message. */
export function parseAge(text: string): number {
  const m = /^(\d+)([dhms])$/.exec(text.trim());
  if (!m) throw new Error(`age must be a number and a unit (d, h, m or s), e.g. 30d; got ${JSON.stringify(text)}`);
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000 }[m[2] as 'd' | 'h' | 'm' | 's'];
  return Number(m[1]) * unit;
}
