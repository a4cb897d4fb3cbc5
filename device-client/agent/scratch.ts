// The agent's scratch folder (stateDir/scratch) holds, at most, one unpacked tar bundle
// (bundle-*) and one install's work folder (install-<manifest sha256 prefix>). A power cut can
// leave either behind; whatever no live install uses is reclaimed here, so cuts never add up.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

export type ScratchKind = 'bundle-' | 'install-';

/** Removes the scratch entries of these kinds, except `keep` (a resumed install's own folder). */
export async function reclaimScratch(scratchDir: string, kinds: readonly ScratchKind[], keep?: string): Promise<string[]> {
  const removed: string[] = [];
  for (const entry of await readdir(scratchDir).catch(() => [] as string[])) {
    if (entry === keep || !kinds.some((kind) => entry.startsWith(kind))) continue;
    await rm(join(scratchDir, entry), { recursive: true, force: true });
    removed.push(entry);
  }
  return removed;
}
