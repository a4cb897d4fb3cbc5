// A loopback TCP port nothing listens on right now, for servers started by port number (demo, tests).
// Chosen below the kernel's ephemeral range: ports picked there (port 0) are what other processes get
// for their own port-0 listeners and outgoing connections. Temporal's dev server opens several such
// listeners, and in CI one of them took the port a stack had picked for its fleet database.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const LOWEST = 20_000;

function ephemeralRangeStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > LOWEST + 1000 ? low : 32_768;
  } catch {
    return 32_768; // Linux's default; other systems differ, and the port is checked by binding anyway
  }
}

async function listenOn(port: number): Promise<number | undefined> {
  const server = createServer();
  server.listen(port, '127.0.0.1');
  try {
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err))]);
  } catch {
    return undefined;
  }
  const bound = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return bound;
}

export async function freePort(): Promise<number> {
  const end = ephemeralRangeStart();
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await listenOn(LOWEST + Math.floor(Math.random() * (end - LOWEST)));
    if (port !== undefined) return port;
  }
  const port = await listenOn(0); // everything below the range is taken: let the kernel choose
  if (port === undefined) throw new Error('no free loopback TCP port');
  return port;
}
