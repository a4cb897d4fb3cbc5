// Finds the external binaries the platform drives (temporal, versitygw, cosign, ...).
// PATH wins, so operators can supply their own builds; the project-local cache
// (.tools/bin, filled by tools/setup.mjs) is the fallback.
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { projectRoot } from './paths.js';

export class ToolNotFoundError extends Error {
  constructor(readonly tool: string) {
    super(`${tool} not found on PATH or in .tools/bin; run \`node tools/setup.mjs --for test\` to install the pinned version`);
    this.name = 'ToolNotFoundError';
  }
}

export function findTool(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  const local = join(projectRoot, '.tools', 'bin', name);
  return existsSync(local) ? local : undefined;
}

export function requireTool(name: string): string {
  const found = findTool(name);
  if (!found) throw new ToolNotFoundError(name);
  return found;
}
