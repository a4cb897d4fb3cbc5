// Which devices run a release affected by a vulnerability (or a component), given each release's
// SBOM and VEX and a scanner's findings, and which published release would fix each of them.
// Pure: the caller gathers releases, devices and findings (release-evidence.ts, affected-answer.ts).
import { compareSemver } from '../release/semver.js';
import type { Finding } from '../sbom/scan-reports.js';
import { indexByPackage, purlMatches, purlPackage } from './purl-match.js';

/** What is asked: one vulnerability id (CVE-, GHSA-, OSV-style), or one component (purl, version optional). */
export type AffectedQuery = { kind: 'vulnerability'; id: string } | { kind: 'component'; purl: string };

export type VexStatus = 'not_affected' | 'affected' | 'fixed' | 'under_investigation';

/** One OpenVEX statement of a release, flattened. */
export interface VexDecision {
  vulnerability: string;
  aliases: string[];
  purls: string[];
  status: VexStatus;
}

/** A published release with its supply-chain evidence. */
export interface ReleaseEvidence {
  hardwareId: string;
  channel: string;
  version: string;
  /** purls of every SBOM component. */
  components: string[];
  vex: VexDecision[];
}

export interface FleetDeviceView {
  id: string;
  hardwareId: string;
  channel: string;
  labels: Record<string, string>;
  currentVersion: string | null;
  /** The ring of the device's latest rollout assignment, if any. */
  ring: string | null;
}

export interface AffectedComponent {
  purl: string;
  vulnerabilities: string[];
}

/** A component the release holds that VEX takes out of the answer, and why. */
export interface SuppressedComponent {
  purl: string;
  vulnerability: string;
  status: 'not_affected' | 'fixed';
}

export interface ReleaseVerdict {
  hardwareId: string;
  channel: string;
  version: string;
  affected: boolean;
  components: AffectedComponent[];
  suppressed: SuppressedComponent[];
}

export interface AffectedDevice {
  id: string;
  hardwareId: string;
  channel: string;
  labels: Record<string, string>;
  ring: string | null;
  release: string;
  components: AffectedComponent[];
  /** Newest published release of the device's hardware and channel, newer than its own, that is not affected; null: none yet. */
  fixedBy: string | null;
}

export interface AffectedAnswer {
  query: AffectedQuery;
  releases: ReleaseVerdict[];
  devices: AffectedDevice[];
  /** Devices on a known release that is not affected. */
  unaffectedDevices: number;
  /** Devices whose release is unknown (never checked in, or a version not in the catalog): no answer for them. */
  unknownDevices: Array<{ id: string; hardwareId: string; currentVersion: string | null }>;
}

export interface AffectedInput {
  query: AffectedQuery;
  releases: ReleaseEvidence[];
  devices: FleetDeviceView[];
  /** Findings of a supplied scan report (Grype or OSV-Scanner); none: the releases' own VEX says what is affected. */
  findings: Finding[];
}

/** A (component, vulnerability ids) pair the evidence calls affected before VEX is applied. */
interface Hit {
  purl: string;
  ids: string[];
}

const sameId = (a: string, b: string) => a.toUpperCase() === b.toUpperCase();
const namesAny = (ids: string[], wanted: string[]) => ids.some((id) => wanted.some((w) => sameId(id, w)));

function asksFor(query: AffectedQuery, ids: string[], purls: string[]): boolean {
  return query.kind === 'vulnerability' ? namesAny(ids, [query.id]) : purls.some((p) => purlMatches(query.purl, p));
}

/** Affected pairs: scan findings on SBOM components, the release's own affected/in-triage VEX, or the asked component itself. */
function hitsOf(release: ReleaseEvidence, query: AffectedQuery, findings: Finding[]): Hit[] {
  const byPackage = indexByPackage(release.components);
  const componentsNamed = (pattern: string) => (byPackage.get(purlPackage(pattern) ?? '') ?? []).filter((purl) => purlMatches(pattern, purl));
  const hits: Hit[] = [];
  for (const f of findings) {
    const ids = [f.id, ...f.aliases];
    if (asksFor(query, ids, [f.purl])) for (const purl of componentsNamed(f.purl)) hits.push({ purl, ids });
  }
  for (const s of release.vex) {
    if (s.status !== 'affected' && s.status !== 'under_investigation') continue;
    const ids = [s.vulnerability, ...s.aliases];
    if (asksFor(query, ids, s.purls)) for (const purl of new Set(s.purls.flatMap(componentsNamed))) hits.push({ purl, ids });
  }
  if (query.kind === 'component' && hits.length === 0) {
    // No scanner or VEX names it: the question is "who runs this component".
    for (const purl of componentsNamed(query.purl)) hits.push({ purl, ids: [] });
  }
  return hits;
}

/** The VEX statement that takes this hit out (not_affected or fixed for one of its ids, on this component). */
function suppressor(release: ReleaseEvidence, hit: Hit): VexDecision | undefined {
  if (hit.ids.length === 0) return undefined;
  return release.vex.find(
    (s) => (s.status === 'not_affected' || s.status === 'fixed') && namesAny([s.vulnerability, ...s.aliases], hit.ids) && s.purls.some((p) => purlMatches(p, hit.purl)),
  );
}

export function releaseVerdict(release: ReleaseEvidence, query: AffectedQuery, findings: Finding[]): ReleaseVerdict {
  const affected = new Map<string, Set<string>>();
  const suppressed = new Map<string, SuppressedComponent>();
  for (const hit of hitsOf(release, query, findings)) {
    const vex = suppressor(release, hit);
    if (vex) {
      suppressed.set(`${hit.purl}\n${vex.vulnerability}`, { purl: hit.purl, vulnerability: vex.vulnerability, status: vex.status as SuppressedComponent['status'] });
      continue;
    }
    const ids = affected.get(hit.purl) ?? new Set<string>();
    // A vulnerability question names its id; a component question the id each finding or statement reports.
    for (const id of query.kind === 'vulnerability' ? [query.id] : hit.ids.slice(0, 1)) ids.add(id);
    affected.set(hit.purl, ids);
  }
  const components = [...affected].map(([purl, ids]) => ({ purl, vulnerabilities: [...ids].sort() })).sort((a, b) => a.purl.localeCompare(b.purl));
  return {
    hardwareId: release.hardwareId,
    channel: release.channel,
    version: release.version,
    affected: components.length > 0,
    components,
    suppressed: [...suppressed.values()].sort((a, b) => a.purl.localeCompare(b.purl) || a.vulnerability.localeCompare(b.vulnerability)),
  };
}

/** Newest release of this hardware and channel, newer than `version`, that the verdicts call not affected. */
export function fixingRelease(verdicts: ReleaseVerdict[], hardwareId: string, channel: string, version: string): string | null {
  let best: string | null = null;
  for (const v of verdicts) {
    if (v.hardwareId !== hardwareId || v.channel !== channel || v.affected) continue;
    if (compareSemver(v.version, version) <= 0) continue;
    if (best === null || compareSemver(v.version, best) > 0) best = v.version;
  }
  return best;
}

export function affectedDevices(input: AffectedInput): AffectedAnswer {
  const verdicts = input.releases.map((r) => releaseVerdict(r, input.query, input.findings));
  // Devices share few (hardware, channel, release) triples: decide the fix once per triple.
  const fixes = new Map<string, string | null>();
  const fixFor = (d: FleetDeviceView, version: string) => {
    const key = `${d.hardwareId}\n${d.channel}\n${version}`;
    if (!fixes.has(key)) fixes.set(key, fixingRelease(verdicts, d.hardwareId, d.channel, version));
    return fixes.get(key)!;
  };
  const byRelease = new Map(verdicts.map((v) => [`${v.hardwareId}\n${v.version}`, v]));
  const devices: AffectedDevice[] = [];
  const unknownDevices: AffectedAnswer['unknownDevices'] = [];
  let unaffectedDevices = 0;
  for (const d of input.devices) {
    const verdict = d.currentVersion === null ? undefined : byRelease.get(`${d.hardwareId}\n${d.currentVersion}`);
    if (!verdict || d.currentVersion === null) {
      unknownDevices.push({ id: d.id, hardwareId: d.hardwareId, currentVersion: d.currentVersion });
      continue;
    }
    if (!verdict.affected) {
      unaffectedDevices++;
      continue;
    }
    devices.push({
      id: d.id,
      hardwareId: d.hardwareId,
      channel: d.channel,
      labels: d.labels,
      ring: d.ring,
      release: d.currentVersion,
      components: verdict.components,
      fixedBy: fixFor(d, d.currentVersion),
    });
  }
  const order = (a: { hardwareId: string; version: string }, b: { hardwareId: string; version: string }) => a.hardwareId.localeCompare(b.hardwareId) || compareSemver(a.version, b.version);
  return {
    query: input.query,
    releases: verdicts.sort((a, b) => order(a, b) || a.channel.localeCompare(b.channel)),
    devices: devices.sort((a, b) => a.hardwareId.localeCompare(b.hardwareId) || a.id.localeCompare(b.id)),
    unaffectedDevices,
    unknownDevices,
  };
}
