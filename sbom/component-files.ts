// Read one component list handed in by the build, detecting its format from content.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { isCycloneDxJson, parseCycloneDxJson } from './parse-cyclonedx.js';
import { isSpdxJson, parseSpdxJson } from './parse-spdx.js';
import { looksLikeBuildrootManifest, parseBuildrootManifest } from './parse-buildroot.js';
import { parseDpkgStatus } from './parse-dpkg.js';
import { parseApkInstalled } from './parse-apk.js';
import type { DistroInfo, PackageRecord } from './types.js';

export type ComponentFileFormat = 'cyclonedx' | 'spdx' | 'buildroot' | 'dpkg' | 'apk';

export function detectComponentFormat(text: string): ComponentFileFormat | undefined {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) {
    let doc: unknown;
    try {
      doc = JSON.parse(trimmed);
    } catch {
      return undefined;
    }
    if (isCycloneDxJson(doc)) return 'cyclonedx';
    if (isSpdxJson(doc)) return 'spdx';
    return undefined;
  }
  if (looksLikeBuildrootManifest(trimmed)) return 'buildroot';
  if (/^Package:\s*\S/m.test(text) && /^Version:\s*\S/m.test(text)) return 'dpkg';
  if (/^P:\S/m.test(text) && /^V:\S/m.test(text)) return 'apk';
  return undefined;
}

export function parseComponentText(text: string, label: string, distro?: DistroInfo): PackageRecord[] {
  const format = detectComponentFormat(text);
  const source = `${format}:${label}`;
  switch (format) {
    case 'cyclonedx':
      return parseCycloneDxJson(JSON.parse(text), source);
    case 'spdx':
      return parseSpdxJson(JSON.parse(text), source);
    case 'buildroot':
      return parseBuildrootManifest(text, source);
    case 'dpkg':
      return parseDpkgStatus(text, { distro, source });
    case 'apk':
      return parseApkInstalled(text, { distro, source });
    default:
      throw new Error(
        `${label}: unrecognised component file (expected CycloneDX JSON, SPDX 2.3 JSON, buildroot manifest.csv, dpkg status or apk installed db)`,
      );
  }
}

export async function readComponentFile(path: string, distro?: DistroInfo): Promise<PackageRecord[]> {
  return parseComponentText(await readFile(path, 'utf8'), basename(path), distro);
}
