// The machine the figures were measured on, for the report.
// @ts-check
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';

export function machine() {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const osName = existsSync('/etc/os-release') ? /^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] : undefined;
  const nproc = spawnSync('nproc', { encoding: 'utf8' }).stdout?.trim();
  const dpkgVersion = (pkg) => spawnSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' }).stdout?.trim() || undefined;
  return {
    nproc: Number(nproc) || cpus().length,
    cpu: model.trim(),
    ramGB: Math.round(totalmem() / 1e9),
    node: process.version,
    os: osName ?? process.platform,
    kernel: spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout?.trim(),
    bsdiffPackage: dpkgVersion('bsdiff'),
    loadAvgAtStart: loadavg().map((n) => Number(n.toFixed(2))),
    // VmHWM of `node -e ''`: what any Node.js process costs before doing anything.
    nodeBaselineRssBytes: Number(/VmHWM:\s*(\d+)/.exec(spawnSync(process.execPath, ['-e', "process.stdout.write(require('fs').readFileSync('/proc/self/status','utf8'))"], { encoding: 'utf8' }).stdout ?? '')?.[1]) * 1024 || undefined,
  };
}
