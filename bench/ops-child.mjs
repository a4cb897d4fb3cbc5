// One ops-delta step in its own process, for bench/run.mjs: its VmHWM is the step's own peak
// (workers report theirs separately), and /usr/bin/time around it gives CPU time including the
// worker processes it reaps. Uses the compiled dist/deltas/ops (what `ota delta` runs).
//   node bench/ops-child.mjs generate OLD NEW PATCH RESULT.json
//   node bench/ops-child.mjs apply OLD PATCH OUT RESULT.json
// @ts-check
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { applyOpsDelta, generateOpsDelta } = await import(join(root, 'dist', 'deltas', 'ops', 'index.js'));
const [command, a, b, out, resultPath] = process.argv.slice(2);
if (!resultPath) throw new Error('usage: ops-child.mjs generate|apply A B OUT RESULT.json');
const result =
  command === 'generate'
    ? await generateOpsDelta({ sourcePath: a, targetPath: b, outPath: out })
    : await applyOpsDelta({ sourcePath: a, patchPath: b, outPath: out });
writeFileSync(resultPath, JSON.stringify(result));
