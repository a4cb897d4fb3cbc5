// Publishes the release manifest contract as JSON Schema (draft 2020-12) for non-TypeScript
// consumers (device firmware, other languages). The committed file is checked by a test, so
// it cannot drift from the zod schema.
//
//   node dist/schemas/export-json-schema.js           rewrite schemas/release-manifest.schema.json
//   node dist/schemas/export-json-schema.js --check   exit 1 when the committed file is stale
//
// Cross-field rules (expires after created, delta toSha256 = image.sha256, unique deltas) are
// not expressible in JSON Schema; parseManifest() enforces them.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { projectRoot } from '../platform/paths.js';
import { manifestSchema } from './manifest.js';

export const RELEASE_MANIFEST_SCHEMA_ID = 'urn:edge-ota:schema:release-manifest:1';
export const releaseManifestSchemaPath = join(projectRoot, 'schemas', 'release-manifest.schema.json');

export function releaseManifestJsonSchema(): Record<string, unknown> {
  const { $schema, ...rest } = z.toJSONSchema(manifestSchema, { target: 'draft-2020-12' }) as Record<string, unknown>;
  return { $schema, $id: RELEASE_MANIFEST_SCHEMA_ID, ...rest };
}

/** The exact text of the committed file (stable formatting, trailing newline). */
export function renderReleaseManifestJsonSchema(): string {
  return `${JSON.stringify(releaseManifestJsonSchema(), null, 2)}\n`;
}

function main(argv: string[]): number {
  const text = renderReleaseManifestJsonSchema();
  if (argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(releaseManifestSchemaPath, 'utf8');
    } catch {
      // Missing counts as stale.
    }
    if (current === text) return 0;
    console.error(`${releaseManifestSchemaPath} is stale; run node dist/schemas/export-json-schema.js`);
    return 1;
  }
  writeFileSync(releaseManifestSchemaPath, text);
  console.log(`wrote ${releaseManifestSchemaPath}`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
