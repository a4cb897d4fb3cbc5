// Which bsdiff runs the diffs of both formats (whole-image bsdiff, the ops format's BSDIFF ops):
// ota-bsdiff (native/ota-bsdiff) when built, bsdiff-node otherwise; the patch bytes are the same.
import { findTool, requireTool } from '../platform/tools.js';

/** 'native' = ota-bsdiff, 'node' = bsdiff-node, 'auto' = native when built. */
export type BsdiffEngine = 'auto' | 'native' | 'node';

/** ota-bsdiff's path for the engine asked for (undefined: bsdiff-node). */
export function resolveBsdiffTool(engine: BsdiffEngine = 'auto'): string | undefined {
  if (engine === 'node') return undefined;
  return engine === 'native' ? requireTool('ota-bsdiff') : findTool('ota-bsdiff');
}
