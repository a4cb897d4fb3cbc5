// Runs the real `ota-device` CLI in a child process, so a test can SIGKILL it. Node 20 cannot run
// TypeScript, so the sources are transpiled (no type check, same code) into a private folder with
// its own package.json and a link to node_modules; dist/ is left to the build.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { projectRoot } from '../../platform/paths.js';

const SOURCE_DIRS = JSON.parse(await readFile(join(projectRoot, 'tsconfig.json'), 'utf8')).include as string[];

async function* filesUnder(dir: string): AsyncGenerator<string> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path);
    else yield path;
  }
}

/** Transpiles every source folder into `outDir`; returns the path of a runnable ota-device entry. */
export async function buildDeviceCli(outDir: string): Promise<string> {
  for (const dir of SOURCE_DIRS) {
    for await (const file of filesUnder(join(projectRoot, dir))) {
      const target = join(outDir, relative(projectRoot, file));
      await mkdir(dirname(target), { recursive: true });
      if (file.endsWith('.ts') && !file.endsWith('.d.ts')) {
        const { outputText } = ts.transpileModule(await readFile(file, 'utf8'), {
          compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
          fileName: file,
        });
        await writeFile(target.replace(/\.ts$/, '.js'), outputText);
      } else {
        await copyFile(file, target); // deltas/artifact-child.mjs, JSON schemas
      }
    }
  }
  // `imports` too: sources load the plain-.mjs delta helpers as `#deltas/*.mjs`.
  const pkg = JSON.parse(await readFile(join(projectRoot, 'package.json'), 'utf8')) as { version: string; imports?: Record<string, string> };
  await writeFile(join(outDir, 'package.json'), JSON.stringify({ name: 'ota-device-under-test', version: pkg.version, type: 'module', imports: pkg.imports }));
  await symlink(join(projectRoot, 'node_modules'), join(outDir, 'node_modules'), 'dir');
  // The project's tool cache (.tools/bin: ota-apply-ops, the native ops applier), found relative to the root.
  if (existsSync(join(projectRoot, '.tools'))) await symlink(join(projectRoot, '.tools'), join(outDir, '.tools'), 'dir');
  const entry = join(outDir, 'ota-device.mjs');
  await writeFile(
    entry,
    `import { main } from './cli/ota-device.js';\nmain(process.argv).catch((err) => { console.error(\`ota-device: \${err?.message ?? err}\`); process.exit(1); });\n`,
  );
  return entry;
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runDeviceCli(entry: string, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
