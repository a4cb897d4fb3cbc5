// Tests that run the real `ota` binary (bin/ota.js loads dist/) need a compiled tree that matches
// the sources. ensureDist() compiles when any source is newer than its output and says why
// not when that still does not help (the caller then skips loudly instead of testing old code).
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../platform/paths.js';

const run = promisify(execFile);

export const OTA_BIN = join(projectRoot, 'bin', 'ota.js');

const SOURCE_DIRS = ['activities', 'cli', 'config', 'deltas', 'platform', 'release', 'schemas', 'signing', 'sbom', 'stores', 'temporal', 'verification', 'workflows'];

function staleOutputs(): string[] {
  const stale: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const rel = relative(projectRoot, path);
        const out = join(projectRoot, 'dist', rel.replace(/\.ts$/, '.js'));
        if (!existsSync(out) || statSync(out).mtimeMs < statSync(path).mtimeMs) stale.push(rel);
      }
    }
  };
  for (const dir of SOURCE_DIRS) walk(join(projectRoot, dir));
  return stale;
}

/** undefined when dist/ is current (compiling if needed); otherwise the reason to skip. */
export async function ensureDist(): Promise<string | undefined> {
  if (staleOutputs().length === 0) return undefined;
  try {
    await run(process.execPath, [join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', projectRoot], { cwd: projectRoot, timeout: 180_000 });
  } catch (err) {
    // tsc still emits on type errors (someone else's work in progress); staleness decides.
    const e = err as { stdout?: string };
    if (staleOutputs().length) return `tsc -p . failed: ${e.stdout?.slice(0, 2000) ?? String(err)}`;
  }
  const still = staleOutputs();
  return still.length ? `dist/ is older than ${still.slice(0, 5).join(', ')} even after tsc -p .` : undefined;
}
