// Supply-chain evidence for the image: a CycloneDX SBOM, then VEX (CycloneDX + OpenVEX).
import { buildSbom, buildVex } from '../../sbom/index.js';
import type { ReleaseRequest, StoredBlob } from '../../release/types.js';
import type { ReleaseActivityDeps } from './activity-deps.js';
import { releaseInputError } from './errors.js';
import { heartbeat } from './heartbeat.js';
import { toChunks } from './sign.js';
import { materialize } from './workspace.js';

export interface SbomOutcome {
  blob: StoredBlob;
  serialNumber: string;
  version: number;
  components: number;
}

export interface VexOutcome {
  vex: StoredBlob;
  openvex: StoredBlob;
  statements: number;
}

export async function generateSbom(ctx: ReleaseActivityDeps, request: ReleaseRequest, created: string): Promise<SbomOutcome> {
  const imagePath = await materialize(ctx.store, ctx.workDir, {
    key: request.image.key,
    sha256: request.image.sha256,
    onProgress: (bytes) => heartbeat({ phase: 'fetching image', bytes, total: request.image.size }),
  });
  const componentFiles: string[] = [];
  for (const file of request.componentFiles) componentFiles.push(await materialize(ctx.store, ctx.workDir, { key: file.key, sha256: file.sha256 }));
  heartbeat({ phase: 'scanning image' });
  let sbom;
  try {
    sbom = await buildSbom({
      image: { path: imagePath, sha256: request.image.sha256, size: request.image.size, name: request.hardwareId, version: request.version, hardware: request.hardwareId },
      componentFiles,
      created,
    });
  } catch (err) {
    // Name component files as they were handed in, not by their cached copies (named by digest).
    let message = (err as Error).message;
    request.componentFiles.forEach((file, i) => (message = message.replaceAll(componentFiles[i]!, file.name).replaceAll(file.sha256, file.name)));
    throw releaseInputError(`SBOM: ${message}`);
  }
  const blob = await ctx.store.putBlob(toChunks(sbom.text));
  const components = Array.isArray(sbom.json.components) ? sbom.json.components.length : 0;
  return { blob, serialNumber: sbom.serialNumber, version: sbom.version, components };
}

export async function generateVex(ctx: ReleaseActivityDeps, request: ReleaseRequest, sbom: SbomOutcome, created: string): Promise<VexOutcome> {
  const sbomJson = JSON.parse((await ctx.store.getBytes(sbom.blob.key)).toString('utf8')) as { components?: SbomComponent[] };
  const statementsFile = request.vexStatements && (await materialize(ctx.store, ctx.workDir, { key: request.vexStatements.key, sha256: request.vexStatements.sha256 }));
  const scanReportFile = request.scanReport && (await materialize(ctx.store, ctx.workDir, { key: request.scanReport.key, sha256: request.scanReport.sha256 }));
  let vex;
  try {
    vex = await buildVex({
      sbom: { serialNumber: sbom.serialNumber, version: sbom.version, bomRefsByPurl: bomRefsByPurl(sbomJson.components ?? []) },
      statementsFile,
      scanReportFile,
      created,
      author: request.provenance.builderId,
    });
  } catch (err) {
    // A statement naming a component the SBOM lacks, or a malformed statement: the input is wrong.
    // Name the files as the release engineer passed them, not their cached copies in the work folder.
    let message = (err as Error).message;
    if (statementsFile && request.vexStatements) message = message.replaceAll(statementsFile, request.vexStatements.name);
    if (scanReportFile && request.scanReport) message = message.replaceAll(scanReportFile, request.scanReport.name);
    throw releaseInputError(`VEX: ${message}`);
  }
  const vexBlob = await ctx.store.putBlob(toChunks(vex.cyclonedx.text));
  const openvexBlob = await ctx.store.putBlob(toChunks(`${JSON.stringify(vex.openvex, null, 2)}\n`));
  return { vex: vexBlob, openvex: openvexBlob, statements: vex.openvex.statements.length };
}

interface SbomComponent {
  purl?: string;
  'bom-ref'?: string;
  components?: SbomComponent[];
}

function bomRefsByPurl(components: SbomComponent[], into: Record<string, string> = {}): Record<string, string> {
  for (const c of components) {
    if (c.purl && c['bom-ref']) into[c.purl] = c['bom-ref'];
    if (c.components) bomRefsByPurl(c.components, into);
  }
  return into;
}
