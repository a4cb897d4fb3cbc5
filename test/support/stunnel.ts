// Debian's stunnel4 as a TLS front for a plaintext server on loopback (the Temporal dev server speaks
// no TLS itself): it terminates TLS, optionally requires a client certificate, and forwards the bytes.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { findTool } from '../../platform/tools.js';
import { freePort } from '../../platform/free-port.js';

export interface TlsFront {
  address: string;
  stop(): Promise<void>;
}

export function stunnelPath(): string | undefined {
  return findTool('stunnel4') ?? findTool('stunnel');
}

async function waitForPort(port: number, child: ChildProcess, log: () => string, deadlineMs = 20_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`stunnel exited with ${child.exitCode}: ${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => (socket.destroy(), resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`stunnel did not listen on ${port} within ${deadlineMs} ms: ${log()}`);
}

/** Starts stunnel in front of `target` (host:port). PEM files: chain (leaf + intermediate), key, and the CA that client certificates must chain to. */
export async function startTlsFront(dir: string, target: string, files: { certChain: string; key: string; clientCa?: string }): Promise<TlsFront> {
  const binary = stunnelPath();
  if (!binary) throw new Error('stunnel4 is not installed (apt-get install -y stunnel4)');
  const port = await freePort();
  const conf = join(dir, 'stunnel.conf');
  writeFileSync(
    conf,
    [
      'foreground = yes',
      'pid =',
      'debug = notice',
      '[front]',
      `accept = 127.0.0.1:${port}`,
      `connect = ${target}`,
      `cert = ${files.certChain}`,
      `key = ${files.key}`,
      'sslVersionMin = TLSv1.2',
      ...(files.clientCa ? [`CAfile = ${files.clientCa}`, 'verifyChain = yes', 'requireCert = yes'] : []),
      '',
    ].join('\n'),
  );
  const child = spawn(binary, [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c));
  child.stderr!.on('data', (c: Buffer) => (output += c));
  await waitForPort(port, child, () => output.slice(-2000));
  return {
    address: `127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
