// SBOM for one firmware image: CycloneDX 1.6 JSON, schema-validated before it is returned.
import { Enums, Models } from '@cyclonedx/cyclonedx-library';
import { serializeValidated } from './cdx-io.js';
import { readComponentFile } from './component-files.js';
import { digestFile, isTarImage, openImage } from './image-source.js';
import { genericPurl } from './purl.js';
import { bomRefFor, dedupeRecords, recordToComponent } from './records-to-components.js';
import { rootfsRecords, scanRootfs } from './scan-rootfs.js';
import type { DistroInfo, PackageRecord } from './types.js';
import { urnUuid } from './uuid.js';

export interface SbomImage {
  path: string;
  /** Expected sha256 (hex) of the image file; checked against the bytes actually read. */
  sha256?: string;
  size?: number;
  name?: string;
  version: string;
  /** Hardware id the image targets; the component name when `name` is absent. */
  hardware?: string;
}

export interface BuildSbomInput {
  image: SbomImage;
  /** Component lists from the build: CycloneDX JSON, SPDX 2.3 JSON, buildroot manifest.csv, dpkg status, apk db. */
  componentFiles?: string[];
  /** ISO timestamp written to metadata.timestamp (no wall clock, for reproducibility). */
  created: string;
  /** true: the image must be a tar rootfs and is scanned; false: never; undefined: scan when it is a tar. */
  scanRootfs?: boolean;
  /** Seed for the serial number; defaults to the image sha256 plus version. */
  serialSeed?: string;
}

export interface SbomResult {
  json: Record<string, unknown>;
  /** The exact JSON text that was validated. */
  text: string;
  serialNumber: string;
  version: number;
  /** Canonical purl -> bom-ref, for VEX BOM-links. */
  bomRefsByPurl: Record<string, string>;
  imageBomRef: string;
  distro?: DistroInfo;
}

export class ImageDigestMismatchError extends Error {
  override name = 'ImageDigestMismatchError';
}

export async function buildSbom(input: BuildSbomInput): Promise<SbomResult> {
  const { image } = input;
  const created = new Date(input.created);
  if (Number.isNaN(created.getTime())) throw new Error(`buildSbom: created is not a timestamp: ${input.created}`);
  const name = image.name ?? image.hardware;
  if (!name) throw new Error('buildSbom: image needs a name or a hardware id');

  // 1. One pass over the image: rootfs scan (if wanted) and digest together.
  let scan = false;
  if (input.scanRootfs !== false) {
    scan = await isTarImage(image.path);
    if (!scan && input.scanRootfs === true) {
      throw new Error(`image ${image.path} is not a tar archive (plain or gzipped); cannot scan its root filesystem`);
    }
  }
  let fromRootfs: PackageRecord[] = [];
  let distro: DistroInfo | undefined;
  let digest: { sha256: string; size: number };
  if (scan) {
    const img = await openImage(image.path);
    const result = rootfsRecords(await scanRootfs(img.content));
    fromRootfs = result.records;
    distro = result.distro;
    digest = await img.digest;
  } else {
    digest = await digestFile(image.path);
  }
  if (image.sha256 && image.sha256.toLowerCase() !== digest.sha256) {
    throw new ImageDigestMismatchError(`image ${image.path}: sha256 is ${digest.sha256}, expected ${image.sha256}`);
  }
  if (image.size !== undefined && image.size !== digest.size) {
    throw new ImageDigestMismatchError(`image ${image.path}: size is ${digest.size}, expected ${image.size}`);
  }

  // 2. Build-declared components first (richer metadata), then what the image shows.
  const declared: PackageRecord[] = [];
  for (const file of input.componentFiles ?? []) declared.push(...(await readComponentFile(file, distro)));
  const records = dedupeRecords([...declared, ...fromRootfs]);

  // 3. Assemble the BOM.
  const imagePurl = genericPurl(name, image.version);
  const imageComponent = new Models.Component(Enums.ComponentType.Firmware, name, {
    bomRef: imagePurl,
    version: image.version,
    purl: imagePurl,
  });
  imageComponent.hashes.set(Enums.HashAlgorithm['SHA-256'], digest.sha256);
  imageComponent.properties.add(new Models.Property('edge-ota:image:size', String(digest.size)));
  if (image.hardware) imageComponent.properties.add(new Models.Property('edge-ota:hardware', image.hardware));

  const serialNumber = urnUuid(`sbom:${input.serialSeed ?? `${digest.sha256}:${image.version}`}`);
  const bom = new Models.Bom({ serialNumber, version: 1 });
  bom.metadata = new Models.Metadata({ timestamp: created, component: imageComponent });
  bom.metadata.tools.components.add(
    new Models.Component(Enums.ComponentType.Application, 'edge-ota-sbom', { group: 'edge-ota', bomRef: 'tool:edge-ota-sbom' }),
  );

  const bomRefsByPurl: Record<string, string> = { [imagePurl]: imagePurl };
  for (const rec of records) {
    const component = recordToComponent(rec);
    bom.components.add(component);
    if (rec.purl) bomRefsByPurl[rec.purl] = bomRefFor(rec);
    // The image contains every component.
    imageComponent.dependencies.add(component.bomRef);
  }

  const { text, json } = await serializeValidated(bom, 'SBOM');
  return { json, text, serialNumber, version: bom.version, bomRefsByPurl, imageBomRef: imagePurl, distro };
}
