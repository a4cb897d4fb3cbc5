// Temp state directories for `ota dev` tests. Registers an afterAll in the calling test file that,
// whatever happened in the tests, stops every process recorded in any of them and removes them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { downStack } from '../../devstack/stack.js';

/**
 * Returns a function that makes a fresh state dir. downStack gets `stackFile`; by default a file
 * that does not exist, so it stops every recorded pid whichever (throw-away) stack file started it.
 */
export function devStateDirs(prefix: string, stackFile?: string): () => string {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const stateDir of dirs) {
      await downStack({ file: stackFile ?? join(stateDir, 'none.yml'), stateDir }).catch(() => undefined);
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 60_000);
  return () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
}
