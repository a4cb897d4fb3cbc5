// Command-line options of bench/run.mjs (its header lists them; --help prints it).
// @ts-check
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
export function flag(name) {
  return argv.includes(name);
}
export function option(name, fallback) {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const value = argv[i + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`${name} needs a value`);
  return value;
}
if (flag('--help') || flag('-h')) {
  console.log(readFileSync(fileURLToPath(new URL('./run.mjs', import.meta.url)), 'utf8').split('\n').slice(1, 19).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}
const known = new Set(['--size', '--store-size', '--json', '--write-docs', '--no-s3', '--no-store', '--no-cli', '--fresh', '--seed', '--no-ops', '--no-1g', '--no-fs', '--fs', '--fs-only', '--no-decision', '--no-rollout', '--rollout-devices', '--rollout-noise-devices', '--pair', '--no-gateway', '--gateway-quick', '--cli-timeout']);
for (const [i, a] of argv.entries()) {
  if (a.startsWith('--') && !known.has(a)) throw new Error(`unknown option ${a} (see --help)`);
  if (!a.startsWith('--') && !['--size', '--store-size', '--seed', '--rollout-devices', '--rollout-noise-devices', '--pair', '--fs', '--cli-timeout'].includes(argv[i - 1])) throw new Error(`unexpected argument ${a}`);
}
export const sizeMiB = Number(option('--size', '100'));
export const storeMiB = Number(option('--store-size', '200'));
export const seed = Number(option('--seed', '100'));
export const pairKind = option('--pair', 'releases');
if (!['releases', 'synthetic'].includes(pairKind)) throw new Error('--pair must be releases or synthetic');
if (!(sizeMiB >= 8)) throw new Error('--size must be a number of MiB >= 8');
if (!(storeMiB >= 1)) throw new Error('--store-size must be a number of MiB >= 1');
export const fsKinds = option('--fs', 'tar,ext4').split(',');
if (!fsKinds.every((k) => k === 'tar' || k === 'ext4')) throw new Error('--fs must be tar, ext4 or tar,ext4');
/** Debian bsdiff on a filesystem pair gives up after this many seconds (0: no limit). */
export const cliTimeoutSeconds = Number(option('--cli-timeout', '600'));
if (!(Number.isFinite(cliTimeoutSeconds) && cliTimeoutSeconds >= 0)) throw new Error('--cli-timeout must be a number of seconds >= 0');
export const wantJson = flag('--json');
export const writeDocs = flag('--write-docs');
export const REBUILT_FRACTION = 0.2;

/** The command as the user typed it, for the report (without --json). */
export function commandLine() {
  const rest = argv.filter((a) => a !== '--json');
  if (process.env.npm_lifecycle_event === 'bench') return `npm run bench${rest.length ? ` -- ${rest.join(' ')}` : ''}`;
  return `node bench/run.mjs${rest.length ? ` ${rest.join(' ')}` : ''}`;
}
