// `ota fleet affected` (and, later, the operator API): gathers the fleet's devices, the published
// releases' evidence and a supplied scan report, and hands them to the pure join.
import { latestRings } from '../fleet/device-rings.js';
import type { FleetStore } from '../fleet/fleet-store.js';
import { readFileAtMost } from '../platform/bounded-read.js';
import { CodedError } from '../platform/coded-error.js';
import { parseScanReport, type Finding } from '../sbom/scan-reports.js';
import type { ArtifactStore } from '../stores/artifact-store.js';
import { affectedDevices, type AffectedAnswer, type AffectedQuery } from './affected-devices.js';
import { parsePurlQuery } from './purl-match.js';
import { readReleaseEvidence } from './release-evidence.js';

/** A scan report larger than this is refused before it is parsed. */
export const MAX_SCAN_REPORT_BYTES = 32 * 1024 * 1024;

export class AffectedQueryError extends CodedError<'INVALID_QUERY' | 'INVALID_SCAN_REPORT'> {}

// CVE-2024-1234, GHSA-xxxx-xxxx-xxxx, and OSV-style ids (PYSEC-2021-1, GO-2022-0001, ALPINE-CVE-2025-26519, ...).
const VULNERABILITY_ID = /^[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9._]+)+$/;

/** CVE-ID (or another vulnerability id) or a purl, as the user typed it. */
export function parseAffectedQuery(text: string): AffectedQuery {
  const trimmed = text.trim();
  if (trimmed.startsWith('pkg:')) {
    const purl = parsePurlQuery(trimmed);
    if (!purl) throw new AffectedQueryError('INVALID_QUERY', `"${trimmed}" is not a valid package URL (pkg:type/namespace/name@version)`);
    return { kind: 'component', purl };
  }
  if (trimmed.length > 100 || !VULNERABILITY_ID.test(trimmed)) {
    throw new AffectedQueryError('INVALID_QUERY', `"${trimmed.slice(0, 100)}" is neither a vulnerability id (CVE-2024-1234, GHSA-..., an OSV id) nor a purl (pkg:...)`);
  }
  return { kind: 'vulnerability', id: trimmed.toUpperCase().startsWith('CVE-') ? trimmed.toUpperCase() : trimmed };
}

/** A Grype or OSV-Scanner JSON report, bounded before it is parsed. */
export async function readBoundedScanReport(path: string): Promise<Finding[]> {
  const bytes = await readFileAtMost(path, MAX_SCAN_REPORT_BYTES, `scan report ${path}`);
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new AffectedQueryError('INVALID_SCAN_REPORT', `scan report ${path} is not JSON: ${(error as Error).message}`);
  }
  try {
    return parseScanReport(doc, `scan report ${path}`);
  } catch (error) {
    throw new AffectedQueryError('INVALID_SCAN_REPORT', (error as Error).message);
  }
}

export interface AffectedSources {
  fleet: FleetStore;
  store: ArtifactStore;
  query: AffectedQuery;
  findings: Finding[];
}

/** Every enrolled, unrevoked device against every published release of its hardware. */
export async function answerAffected({ fleet, store, query, findings }: AffectedSources): Promise<AffectedAnswer> {
  const enrolled = (await fleet.listDevices()).filter((d) => !d.revokedAt);
  const rings = await latestRings(fleet.db);
  const releases = await readReleaseEvidence(store, enrolled.map((d) => d.hardwareId));
  const devices = enrolled.map((d) => ({ id: d.id, hardwareId: d.hardwareId, channel: d.channel, labels: d.labels, currentVersion: d.state.currentVersion, ring: rings.get(d.id) ?? null }));
  return affectedDevices({ query, releases, devices, findings });
}
