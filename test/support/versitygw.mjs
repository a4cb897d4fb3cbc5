// Starts a real versitygw (S3 gateway over a posix directory) on a free loopback port, and stops it
// again: for tests (through versitygw.ts) and the bench (bench/store.mjs). Plain .mjs so the bench
// loads it with plain node; the caller passes the project's tool lookup and free-port helpers
// (sources under vitest, dist/ in the bench). Only 127.0.0.1 is used.
// @ts-check
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** @param {string} url @param {import('node:child_process').ChildProcess} child @param {number} deadlineMs */
async function waitUntilAnswering(url, child, deadlineMs) {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`versitygw exited early with code ${child.exitCode}`);
    try {
      // Any HTTP answer (an S3 error document included) means the gateway is serving.
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`versitygw did not answer at ${url} within ${deadlineMs} ms`);
}

/** @param {import('node:child_process').ChildProcess} child @returns {Promise<void>} */
function stopProcess(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * @param {{ binary: string, freePort: () => Promise<number>, parentDir?: string }} options
 * @returns {Promise<import('./versitygw.d.mts').VersityGw>}
 */
export async function launchVersityGw({ binary, freePort, parentDir = tmpdir() }) {
  const rootDir = await mkdtemp(join(parentDir, 'ota-vgw-'));
  await mkdir(join(rootDir, 'data'));
  const accessKeyId = 'otatestaccess';
  const secretAccessKey = 'otatestsecret-0123456789';
  // The port can be taken between probing and binding; a few attempts make that harmless.
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const child = spawn(
      binary,
      ['--access', accessKeyId, '--secret', secretAccessKey, '--port', `127.0.0.1:${port}`, '--quiet', 'posix', join(rootDir, 'data')],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (/** @type {Buffer} */ chunk) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    try {
      await waitUntilAnswering(endpoint, child, 15_000);
    } catch (error) {
      await stopProcess(child);
      lastError = new Error(`${/** @type {Error} */ (error).message}\n${stderr}`);
      continue;
    }
    return {
      endpoint,
      port,
      accessKeyId,
      secretAccessKey,
      region: 'us-east-1',
      rootDir: join(rootDir, 'data'),
      pid: /** @type {number} */ (child.pid),
      async stop() {
        await stopProcess(child);
        await rm(rootDir, { recursive: true, force: true });
      },
    };
  }
  await rm(rootDir, { recursive: true, force: true });
  throw lastError;
}
