// `ota delta gc --older-than 30d [--keep N] [--dry-run] [--json]`: removes on-demand deltas that no
// check-in was offered for that long, beyond the N most recently used per release; never a delta whose
// bytes a manifest lists (release/on-demand-gc.ts, activities/delta/gc.ts).
import type { Command } from 'commander';
import { collectOnDemandDeltas } from '../../activities/delta/gc.js';
import { parseAge } from '../../release/on-demand-gc.js';
import { openArtifactStore } from '../../stores/index.js';
import { configFrom, withFleetStore } from '../context.js';
import { parseNonNegativeInt } from '../options.js';
import { printResult } from '../output.js';

interface GcOptions {
  olderThan: string;
  keep: string;
  dryRun?: boolean;
  json?: boolean;
}

export function registerDeltaGcCommand(delta: Command): void {
  delta
    .command('gc')
    .description('remove on-demand deltas not offered to any device for a while (never one a manifest lists)')
    .requiredOption('--older-than <age>', 'not offered for this long: 30d, 12h, 90m, 45s')
    .option('--keep <n>', 'always keep the N most recently used on-demand deltas of each release', '2')
    .option('--dry-run', 'say what would go, remove nothing')
    .option('--json', 'print the result as JSON')
    .action(async (opts: GcOptions, command: Command) => {
      const olderThanMs = parseAge(opts.olderThan);
      const keepPerRelease = parseNonNegativeInt('--keep', opts.keep);
      const config = configFrom(command);
      const store = openArtifactStore(config.store);
      try {
        const result = await withFleetStore(command, (fleet) => collectOnDemandDeltas({ config, store, fleet }, { now: new Date(), olderThanMs, keepPerRelease, dryRun: Boolean(opts.dryRun) }));
        printResult(opts, result, () => {
          const verb = result.dryRun ? 'would remove' : 'removed';
          const lines = result.removed.map((d) => `${verb} ${d.hardwareId} ${d.fromVersion} -> ${d.toVersion} (${d.format}, ${d.length ?? 0} bytes, last used ${d.lastUsedAt?.toISOString() ?? 'never'})`);
          lines.push(`${verb} ${result.removed.length} on-demand delta(s), ${result.freedBytes} bytes; kept ${result.kept.length}`);
          return lines.join('\n');
        });
      } finally {
        await store.close();
      }
    });
}
