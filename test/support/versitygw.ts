// Starts a real versitygw (S3 gateway over a posix directory) on a free loopback port for
// tests, and stops it again. Only 127.0.0.1 is used: tests never touch another network.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { freePort } from '../../platform/free-port.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '../../platform/tools.js';

export interface VersityGw {
  endpoint: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Directory versitygw serves; each subdirectory is a bucket. */
  rootDir: string;
  stop(): Promise<void>;
}

async function waitUntilAnswering(url: string, child: ChildProcess, deadlineMs: number): Promise<void> {
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

function stopProcess(child: ChildProcess): Promise<void> {
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

export async function startVersityGw(): Promise<VersityGw> {
  const binary = requireTool('versitygw');
  const rootDir = await mkdtemp(join(tmpdir(), 'ota-vgw-'));
  await mkdir(join(rootDir, 'data'));
  const accessKeyId = 'otatestaccess';
  const secretAccessKey = 'otatestsecret-0123456789';
  // The port can be taken between probing and binding; a few attempts make that harmless.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const child = spawn(
      binary,
      ['--access', accessKeyId, '--secret', secretAccessKey, '--port', `127.0.0.1:${port}`, '--quiet', 'posix', join(rootDir, 'data')],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    try {
      await waitUntilAnswering(endpoint, child, 15_000);
    } catch (error) {
      await stopProcess(child);
      lastError = new Error(`${(error as Error).message}\n${stderr}`);
      continue;
    }
    return {
      endpoint,
      port,
      accessKeyId,
      secretAccessKey,
      region: 'us-east-1',
      rootDir: join(rootDir, 'data'),
      async stop() {
        await stopProcess(child);
        await rm(rootDir, { recursive: true, force: true });
      },
    };
  }
  await rm(rootDir, { recursive: true, force: true });
  throw lastError;
}
