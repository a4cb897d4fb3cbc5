// `ota dev sample-image`: a small sample firmware image to try the stack with (the demo's builder: a
// tar root filesystem with real ELF binaries and a dpkg database; consecutive versions differ like patches).
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { buildSampleImage } from '../../demo/sample-image.js';
import { semverSchema } from '../../schemas/manifest.js';
import { printResult } from '../output.js';

export function registerSampleImageCommand(dev: Command): void {
  dev
    .command('sample-image')
    .description('build a sample firmware image (tar root filesystem) to publish, e.g. in the README walk-through')
    .requiredOption('--version <semver>', 'version written into the image, e.g. 1.0.0')
    .requiredOption('--out <file>', 'where to write the image')
    .option('--json', 'print JSON')
    .action((opts: { version: string; out: string; json?: boolean }) => {
      const parsed = semverSchema.safeParse(opts.version);
      if (!parsed.success) throw new Error(`--version: expected a version like 1.0.0, got "${opts.version}"`);
      const out = resolve(opts.out);
      const built = buildSampleImage({ version: parsed.data, out });
      printResult(opts, { path: out, version: parsed.data, files: built.files }, () => `wrote ${out} (sample image ${parsed.data}, ${built.files} files)`);
    });
}
