// What the bench measures and borrows from the project: the compiled dist/ modules (the code the
// Temporal worker runs; `prebench` builds them) and the platform helpers, loaded once.
// @ts-check
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const MiB = 1024 * 1024;

const distDeltas = join(root, 'dist', 'deltas', 'index.js');
if (!existsSync(distDeltas) || !existsSync(join(root, 'dist', 'stores', 'open-store.js'))) {
  console.error('dist/ is missing: run `node tools/setup.mjs` (npm run bench does it via prebench) or `npm run build`');
  process.exit(1);
}
const dist = (path) => import(pathToFileURL(join(root, 'dist', path)).href);

export const { applyBsdiffPatch, compressFullImage, generateBsdiffDelta } = await dist('deltas/index.js');
export const { findNativeApplier } = await dist('deltas/ops/index.js');
export const { findTool } = await dist('platform/tools.js');
export const { freePort } = await dist('platform/free-port.js');
const { sha256OfFile } = await dist('platform/file-sha256.js');

/** Hex sha256 of a file, streamed. */
export async function sha256File(path) {
  return (await sha256OfFile(path)).sha256;
}
