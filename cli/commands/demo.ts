// `ota demo`: the main job on the embedded default (see demo/run-demo.ts).
import type { Command } from 'commander';
import { join } from 'node:path';
import { runDemo } from '../../demo/run-demo.js';
import { defaultStateDir } from '../../platform/paths.js';
import { printResult } from '../output.js';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('the main job end to end: start the stack, publish and verify releases, roll them out to a simulated fleet (one rolls back), stop')
    .option('--state-dir <dir>', 'where the demo keeps its stack, store and keys (wiped first)', join(defaultStateDir, 'demo'))
    .option('--json', 'print a JSON summary of the steps at the end')
    .action(async (opts: { stateDir: string; json?: boolean }) => {
      const say = (line: string) => process.stderr.write(`${line}\n`);
      const result = await runDemo({ stateDir: opts.stateDir, say });
      printResult(opts, result, () =>
        ['', 'demo summary:', ...result.steps.map((s) => `  ${s.ok ? 'ok  ' : 'FAIL'} ${s.title}${s.detail ? `  (${s.detail})` : ''}`)].join('\n'),
      );
      if (!result.ok) process.exitCode = 1;
    });
}
