// Releases as the operator API shows them: the channel indexes, one manifest with what it pins
// (SBOM components, VEX statements, SLSA provenance), and a second signer's approval that arrives
// as a signature made where the approver's key lives (the key never reaches the server).
import { createHash } from 'node:crypto';
import { findPublishedManifest, readChannelIndexes } from '../release/catalog.js';
import { manifestKey } from '../release/layout.js';
import { compareSemver } from '../release/semver.js';
import { hardwareIdSchema, type Manifest } from '../schemas/manifest.js';
import type { ArtifactStore } from '../stores/index.js';
import { readRepository, writeRepository } from '../trust/metadata-store.js';
import { addApprovalSignature } from '../trust/release-approvals.js';
import type { OnlineSigning } from '../trust/repository.js';
import { OperatorError } from './errors.js';

export async function listReleases(store: ArtifactStore, hardware: string) {
  const byChannel = await readChannelIndexes(store, hardwareIdSchema.parse(hardware));
  return [...byChannel].flatMap(([channel, entries]) => entries.map((e) => ({ channel, ...e }))).sort((a, b) => compareSemver(b.version, a.version));
}

export async function releaseManifest(store: ArtifactStore, hardware: string, version: string): Promise<{ manifest: Manifest; sha256: string }> {
  const found = await findPublishedManifest(store, hardwareIdSchema.parse(hardware), version);
  if (!found) throw new OperatorError('NOT_FOUND', `no release ${version} of ${hardware}`);
  return { manifest: found.manifest, sha256: found.ref.sha256 };
}

/** A pinned JSON artifact of the release, checked against the manifest's digest before it is parsed. */
async function pinnedJson(store: ArtifactStore, ref: { location: string; sha256: string }): Promise<unknown> {
  const bytes = await store.getBytes(ref.location);
  if (createHash('sha256').update(bytes).digest('hex') !== ref.sha256) throw new OperatorError('CONFLICT', `${ref.location} does not match the sha256 its manifest pins`);
  return JSON.parse(bytes.toString('utf8'));
}

interface CdxComponent {
  name?: string;
  version?: string;
  purl?: string;
  type?: string;
}
interface CdxVulnerability {
  id?: string;
  analysis?: { state?: string; justification?: string; detail?: string };
  affects?: Array<{ ref?: string }>;
}

/** The manifest with its SBOM components, VEX statements and provenance statement. */
export async function releaseDetail(store: ArtifactStore, hardware: string, version: string) {
  const { manifest, sha256 } = await releaseManifest(store, hardware, version);
  const sbom = (await pinnedJson(store, manifest.sbom)) as { components?: CdxComponent[] };
  const vex = (await pinnedJson(store, manifest.vex)) as { vulnerabilities?: CdxVulnerability[] };
  const bundle = (await pinnedJson(store, manifest.provenance)) as { dsseEnvelope?: { payload?: string } };
  const payload = bundle.dsseEnvelope?.payload;
  return {
    manifest,
    manifestSha256: sha256,
    components: (sbom.components ?? []).map((c) => ({ name: c.name, version: c.version, purl: c.purl, type: c.type })),
    vex: (vex.vulnerabilities ?? []).map((v) => ({ id: v.id, state: v.analysis?.state, justification: v.analysis?.justification, detail: v.analysis?.detail, affects: (v.affects ?? []).map((a) => a.ref) })),
    provenance: payload ? JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) : bundle,
  };
}

/** The manifest bytes an approver signs (sha256 with its ECDSA release key). */
export async function releaseManifestBytes(store: ArtifactStore, hardware: string, version: string): Promise<Buffer> {
  await releaseManifest(store, hardware, version);
  return store.getBytes(manifestKey(hardware, version));
}

export interface ReleaseApproval {
  keyID: string;
  /** Hex DER ECDSA signature over the manifest bytes (sha256). */
  signature: string;
}

/** Adds the approval to the release's target in a new targets version (trust/release-approvals.ts checks signer and signature). */
export async function approveReleaseBySignature(store: ArtifactStore, signing: () => Promise<OnlineSigning>, hardware: string, version: string, approval: ReleaseApproval) {
  const path = manifestKey(hardware, version);
  const bytes = await releaseManifestBytes(store, hardware, version);
  const before = await readRepository(store);
  const repo = addApprovalSignature(before.repo, path, bytes, approval.keyID, approval.signature, await signing());
  await writeRepository(store, repo, before);
  return { release: version, hardwareId: hardware, approvedBy: approval.keyID, targetsVersion: repo.targets.signed.version };
}
