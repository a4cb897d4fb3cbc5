// Runs the pinned cosign binary for interop checks. HOME points at a scratch dir and a dead
// proxy is set so any attempt to reach the network (TUF, Rekor) fails instead of leaking out.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requireTool } from '../../platform/tools.js';

const run = promisify(execFile);
const cosignHome = mkdtempSync(join(tmpdir(), 'cosign-home-'));

export interface CosignResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

export async function cosign(args: string[]): Promise<CosignResult> {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: cosignHome,
    HTTPS_PROXY: 'http://127.0.0.1:9',
    HTTP_PROXY: 'http://127.0.0.1:9',
    NO_PROXY: '',
    SIGSTORE_NO_CACHE: 'true',
  };
  try {
    const { stdout, stderr } = await run(requireTool('cosign'), args, { env, timeout: 60_000 });
    return { ok: true, stdout, stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
  }
}
