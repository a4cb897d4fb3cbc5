// Listening sockets from the device's own view: Linux's /proc/net/{tcp,tcp6,udp,udp6} under a
// configurable proc root (tests give a fixture or the real /proc). Each file is read to at most
// PROC_NET_LIMIT bytes; past that the list is marked truncated rather than read without end.
import { open } from 'node:fs/promises';
import { join } from 'node:path';

export const PROC_NET_LIMIT = 1024 * 1024;
const TCP_LISTEN = '0A';
/** An unconnected UDP socket (TCP_CLOSE in the kernel's table) bound to a port: one that receives. */
const UDP_UNCONNECTED = '07';

export interface ListeningPorts {
  /** "tcp/22", "udp/123": sorted, unique (v4 and v6 fold together). */
  ports: string[];
  truncated: boolean;
}

/** The listening ports of one /proc/net table's text (pure). */
export function parseProcNet(text: string, protocol: 'tcp' | 'udp'): string[] {
  const ports: string[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 4) continue;
    const [, local, remote, state] = fields as [string, string, string, string];
    const localPort = Number.parseInt(local.split(':')[1] ?? '', 16);
    if (!Number.isInteger(localPort) || localPort <= 0 || localPort > 65_535) continue;
    const listening = protocol === 'tcp' ? state === TCP_LISTEN : state === UDP_UNCONNECTED && /:0000$/.test(remote);
    if (listening) ports.push(`${protocol}/${localPort}`);
  }
  return ports;
}

/** At most `limit` bytes of a file; missing files read as empty (a kernel without IPv6 has no tcp6). */
async function readBounded(path: string, limit: number): Promise<{ text: string; truncated: boolean }> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { text: '', truncated: false };
    throw error;
  }
  try {
    const buf = Buffer.allocUnsafe(limit + 1);
    let length = 0;
    while (length <= limit) {
      const { bytesRead } = await handle.read(buf, length, limit + 1 - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    const truncated = length > limit;
    let text = buf.subarray(0, Math.min(length, limit)).toString('latin1');
    // Drop a line cut in half by the limit.
    if (truncated) text = text.slice(0, text.lastIndexOf('\n') + 1);
    return { text, truncated };
  } finally {
    await handle.close();
  }
}

/** The device's listening ports, at most `maxPorts` of them (the lowest ones first). */
export async function listeningPorts(procRoot: string, maxPorts: number, limit = PROC_NET_LIMIT): Promise<ListeningPorts> {
  const found = new Set<string>();
  let truncated = false;
  for (const [file, protocol] of [['tcp', 'tcp'], ['tcp6', 'tcp'], ['udp', 'udp'], ['udp6', 'udp']] as const) {
    const read = await readBounded(join(procRoot, 'net', file), limit);
    truncated ||= read.truncated;
    for (const port of parseProcNet(read.text, protocol)) found.add(port);
  }
  const sorted = [...found].sort(comparePorts);
  return { ports: sorted.slice(0, maxPorts), truncated: truncated || sorted.length > maxPorts };
}

function comparePorts(a: string, b: string): number {
  const [pa, na] = a.split('/') as [string, string];
  const [pb, nb] = b.split('/') as [string, string];
  return pa === pb ? Number(na) - Number(nb) : pa < pb ? -1 : 1;
}
