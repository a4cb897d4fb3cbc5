// Store streaming: a large object through the artifact store's putBlob and back through getStream,
// in its own child process (bench/store-stream.mjs reports its own VmHWM): the local directory
// store, then S3 against a versitygw on loopback (test/support/versitygw.mjs, as the tests run it).
// @ts-check
import { fork } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { launchVersityGw } from '../test/support/versitygw.mjs';
import { flag, storeMiB } from './args.mjs';
import { log, rssMb, sec, status } from './format.mjs';
import { procStatus } from './measure.mjs';
import { findTool, freePort, MiB, root } from './project.mjs';

function storeChild(label, job) {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = fork(join(root, 'bench', 'store-stream.mjs'), [], { cwd: root, execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    let outcome;
    child.stderr?.setEncoding('utf8').on('data', (t) => (stderr = (stderr + t).slice(-4000)));
    child.on('message', (m) => {
      if (m.type === 'progress') {
        const rss = procStatus(child.pid, 'VmRSS');
        status(`${label}: ${m.phase} ${Math.floor((m.bytesDone / m.bytesTotal) * 100)}%, ${sec(performance.now() - started)}${rss ? `, RSS ${rssMb(rss)}` : ''}`);
      } else outcome = m;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (outcome?.type === 'result') return resolvePromise(outcome.result);
      reject(new Error(`${label}: ${outcome?.message ?? `child exited with ${code}: ${stderr}`}`));
    });
    child.send({ ...job, bytes: storeMiB * MiB });
  });
}

export async function storeBench(work) {
  const rows = [];
  const localDir = join(work, 'store-local');
  mkdirSync(localDir, { recursive: true });
  const local = await storeChild(`local store, ${storeMiB} MiB`, { backend: 'local', dir: localDir });
  rows.push({ backend: 'local directory', ...local });
  rmSync(localDir, { recursive: true, force: true });
  log(`local store ${storeMiB} MiB: up ${sec(local.uploadMs)}, down ${sec(local.downloadMs)}, peak RSS ${rssMb(local.peakRssBytes)} (baseline ${rssMb(local.baselineRssBytes)})`);

  if (flag('--no-s3')) return rows;
  const binary = findTool('versitygw');
  if (!binary) {
    log('versitygw not found (PATH or .tools/bin; `node tools/setup.mjs --for test` installs it): S3 row skipped');
    return rows;
  }
  let gw;
  try {
    gw = await launchVersityGw({ binary, freePort, parentDir: work });
  } catch (e) {
    log(`WARNING: versitygw failed to start, S3 row skipped: ${e.message}`);
    return rows;
  }
  try {
    const s3 = await storeChild(`S3 store (versitygw), ${storeMiB} MiB`, {
      backend: 's3',
      endpoint: gw.endpoint,
      region: gw.region,
      bucket: `ota-bench-${process.pid}`,
      accessKeyId: gw.accessKeyId,
      secretAccessKey: gw.secretAccessKey,
    });
    const versitygwPeak = procStatus(gw.pid, 'VmHWM');
    rows.push({ backend: 'S3 (versitygw v1.8.0 on loopback, 8 MiB parts)', ...s3, serverPeakRssBytes: versitygwPeak });
    log(`S3 store ${storeMiB} MiB: up ${sec(s3.uploadMs)}, down ${sec(s3.downloadMs)}, peak RSS ${rssMb(s3.peakRssBytes)} (baseline ${rssMb(s3.baselineRssBytes)})`);
  } finally {
    await gw.stop();
  }
  return rows;
}
