// /etc/os-release -> distro identity (namespace for deb/apk purls, distro qualifier).
import type { DistroInfo } from './types.js';

export function parseOsRelease(text: string): DistroInfo | undefined {
  const vars: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (!m) continue;
    vars[m[1]!] = m[2]!.replace(/^(["'])(.*)\1$/, '$2');
  }
  if (!vars['ID']) return undefined;
  return { id: vars['ID'].toLowerCase(), versionId: vars['VERSION_ID'] };
}
