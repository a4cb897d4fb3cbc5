// Tests that run the real `ota` binary (bin/ota.js loads dist/) need a compiled tree that matches
// the sources. ensureDist() compiles when any source is newer than its output and says why
// not when that still does not help (the caller then skips loudly instead of testing old code).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../platform/paths.js';

const run = promisify(execFile);

export const OTA_BIN = join(projectRoot, 'bin', 'ota.js');

/**
 * Sources the `ota` binary loads: the import graph from cli/ota.ts (plus the workflow bundle's
 * entry). Others' unrelated work in progress in the same tree does not make dist/ "stale".
 */
function reachableSources(): string[] {
  const seen = new Set<string>();
  const queue = [join(projectRoot, 'cli', 'ota.ts'), join(projectRoot, 'workflows', 'index.ts')];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file) || !existsSync(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g)) {
      queue.push(resolve(dirname(file), `${match[1]}.ts`));
    }
  }
  return [...seen];
}

function staleOutputs(): string[] {
  const stale: string[] = [];
  for (const path of reachableSources()) {
    const rel = relative(projectRoot, path);
    const out = join(projectRoot, 'dist', rel.replace(/\.ts$/, '.js'));
    if (!existsSync(out) || statSync(out).mtimeMs < statSync(path).mtimeMs) stale.push(rel);
  }
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
