// The published releases of some hardware ids with their SBOM components and OpenVEX statements,
// read from the artifact store through the release catalog. Every document is checked against the
// digest that pins it (index -> manifest -> SBOM, OpenVEX) and bounded before it is parsed.
import { createHash } from 'node:crypto';
import { readChannelIndexes } from '../release/catalog.js';
import { CodedError } from '../platform/coded-error.js';
import { parseManifest, type ArtifactRef } from '../schemas/manifest.js';
import type { ArtifactStore } from '../stores/artifact-store.js';
import type { ReleaseEvidence, VexDecision, VexStatus } from './affected-devices.js';

/** An SBOM or VEX larger than this is refused, not parsed. */
export const MAX_EVIDENCE_BYTES = 64 * 1024 * 1024;

export class ReleaseEvidenceError extends CodedError<'EVIDENCE_MISMATCH' | 'EVIDENCE_TOO_LARGE' | 'EVIDENCE_MALFORMED'> {}

interface SbomComponent {
  purl?: unknown;
  components?: SbomComponent[];
}

interface OpenVexJson {
  statements?: Array<{ vulnerability?: { name?: unknown; aliases?: unknown }; products?: Array<{ identifiers?: { purl?: unknown } }>; status?: unknown }>;
}

const VEX_STATUSES = new Set<VexStatus>(['not_affected', 'affected', 'fixed', 'under_investigation']);

async function pinnedJson(store: ArtifactStore, ref: ArtifactRef, what: string): Promise<unknown> {
  const head = await store.head(ref.location);
  if (head && head.size > MAX_EVIDENCE_BYTES) throw new ReleaseEvidenceError('EVIDENCE_TOO_LARGE', `${what} (${ref.location}) is ${head.size} bytes, more than the ${MAX_EVIDENCE_BYTES} read`);
  const bytes = await store.getBytes(ref.location);
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== ref.sha256) throw new ReleaseEvidenceError('EVIDENCE_MISMATCH', `${what} (${ref.location}) hashes to ${digest}, its release pins ${ref.sha256}`);
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new ReleaseEvidenceError('EVIDENCE_MALFORMED', `${what} (${ref.location}) is not JSON: ${(error as Error).message}`);
  }
}

export function componentPurls(components: SbomComponent[] | undefined, into: string[] = []): string[] {
  for (const c of components ?? []) {
    if (typeof c.purl === 'string') into.push(c.purl);
    if (Array.isArray(c.components)) componentPurls(c.components, into);
  }
  return into;
}

export function vexDecisions(doc: OpenVexJson): VexDecision[] {
  const out: VexDecision[] = [];
  for (const s of doc.statements ?? []) {
    const name = s.vulnerability?.name;
    if (typeof name !== 'string' || !VEX_STATUSES.has(s.status as VexStatus)) continue;
    const aliases = Array.isArray(s.vulnerability?.aliases) ? s.vulnerability.aliases.filter((a): a is string => typeof a === 'string') : [];
    const purls = (s.products ?? []).map((p) => p.identifiers?.purl).filter((p): p is string => typeof p === 'string');
    out.push({ vulnerability: name, aliases, purls, status: s.status as VexStatus });
  }
  return out;
}

/** Every release on every channel of these hardware ids. */
export async function readReleaseEvidence(store: ArtifactStore, hardwareIds: Iterable<string>): Promise<ReleaseEvidence[]> {
  const out: ReleaseEvidence[] = [];
  for (const hardwareId of new Set(hardwareIds)) {
    for (const [channel, entries] of await readChannelIndexes(store, hardwareId)) {
      for (const entry of entries) {
        const what = `release ${hardwareId} ${entry.version}`;
        const bytes = await store.getBytes(entry.manifest.location);
        const digest = createHash('sha256').update(bytes).digest('hex');
        if (digest !== entry.manifest.sha256) throw new ReleaseEvidenceError('EVIDENCE_MISMATCH', `manifest of ${what} hashes to ${digest}, the ${channel} index pins ${entry.manifest.sha256}`);
        const manifest = parseManifest(bytes, { ignoreUnknownDeltaFormats: true });
        const sbom = (await pinnedJson(store, manifest.sbom, `SBOM of ${what}`)) as { components?: SbomComponent[] };
        const openvex = (await pinnedJson(store, manifest.openvex, `OpenVEX of ${what}`)) as OpenVexJson;
        out.push({ hardwareId, channel, version: entry.version, components: componentPurls(sbom.components), vex: vexDecisions(openvex) });
      }
    }
  }
  return out;
}
