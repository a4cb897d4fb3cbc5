// A real local HTTP server that answers the device API the way an attacker in the path would:
// a body that never ends, a Content-Length of a terabyte, bytes trickled slowly forever, or a
// chosen JSON document. Paths the test does not name get a well-formed answer (a nonce).
import { randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type HostileAnswer = 'endless' | 'huge-length' | 'trickle' | 'not-json' | { json: unknown };

export interface HostileGateway {
  url: string;
  /** Paths requested, in order. */
  requests: string[];
  close(): Promise<void>;
}

function answer(res: ServerResponse, how: HostileAnswer): void {
  if (typeof how === 'object') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(how.json));
    return;
  }
  if (how === 'not-json') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('<html>captive portal</html>');
    return;
  }
  if (how === 'huge-length') {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(1024 ** 4) });
    res.write('{"nonce":"');
    return; // and nothing more
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  const chunk = how === 'endless' ? Buffer.alloc(64 * 1024, 0x20) : Buffer.from(' ');
  const period = how === 'endless' ? 0 : 50;
  res.write('{"nonce":"');
  const timer = setInterval(() => {
    if (res.destroyed || res.writableEnded) clearInterval(timer);
    else res.write(chunk);
  }, period);
  res.on('close', () => clearInterval(timer));
}

/** `route` says how to answer a path (without query); undefined: a normal nonce. */
export async function startHostileGateway(route: (path: string) => HostileAnswer | undefined): Promise<HostileGateway> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    requests.push(path);
    req.resume();
    answer(res, route(path) ?? { json: { nonce: randomBytes(32).toString('base64url'), expiresAt: new Date(Date.now() + 60_000).toISOString() } });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
