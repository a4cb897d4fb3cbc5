// A package.json found in the image -> one npm component (name/version only).
import { npmPurl } from './purl.js';
import type { PackageRecord } from './types.js';

export function parsePackageJson(text: string, path: string): PackageRecord | undefined {
  let pkg: unknown;
  try {
    pkg = JSON.parse(text);
  } catch {
    return undefined; // templates and fixtures inside images are often not valid JSON
  }
  if (typeof pkg !== 'object' || pkg === null) return undefined;
  const { name, version, license } = pkg as Record<string, unknown>;
  if (typeof name !== 'string' || typeof version !== 'string' || !name || !version) return undefined;
  const scoped = name.startsWith('@') && name.includes('/');
  return {
    kind: 'library',
    name: scoped ? name.slice(name.indexOf('/') + 1) : name,
    group: scoped ? name.slice(0, name.indexOf('/')) : undefined,
    version,
    purl: npmPurl(name, version),
    licenses: typeof license === 'string' ? [license] : undefined,
    path,
    source: `npm:${path}`,
  };
}
