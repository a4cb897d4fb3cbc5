// Neutral package record every parser produces; the BOM builder turns these into
// CycloneDX components. Keeping parsers free of the CycloneDX model keeps them pure
// and easy to test.

import type { Enums } from '@cyclonedx/cyclonedx-library';

/** CycloneDX component type values ('library', 'file', 'firmware', ...). */
export type ComponentKind = `${Enums.ComponentType}`;

export interface PackageRecord {
  kind: ComponentKind;
  name: string;
  group?: string;
  version?: string;
  /** Canonical purl string, when the ecosystem has a purl type. */
  purl?: string;
  /** Licenses as declared by the source (SPDX ids, expressions or free text). */
  licenses?: string[];
  description?: string;
  supplier?: string;
  /** lower-case hex digests keyed by CycloneDX algorithm name, e.g. 'SHA-256'. */
  hashes?: Record<string, string>;
  /** Absolute path inside the image, for file components. */
  path?: string;
  /** Where the record came from, e.g. 'dpkg:/var/lib/dpkg/status' or 'buildroot:manifest.csv'. */
  source: string;
  properties?: Record<string, string>;
  /** Download location / homepage, when known. */
  externalUrls?: { type: 'distribution' | 'website' | 'vcs'; url: string }[];
}

/** Distro identity read from os-release, used for purl namespaces and the distro qualifier. */
export interface DistroInfo {
  id: string;
  versionId?: string;
}
