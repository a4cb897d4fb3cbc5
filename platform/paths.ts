// Where the project lives on disk, whether running from sources (vitest) or from dist/.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) return start;
    dir = parent;
  }
  return dir;
}

export const projectRoot = findRoot(dirname(fileURLToPath(import.meta.url)));

/** Runtime state of the local stack (databases, pids, keys) lives under .ota/ by default. */
export const defaultStateDir = resolve(process.env.OTA_STATE_DIR ?? join(projectRoot, '.ota'));
