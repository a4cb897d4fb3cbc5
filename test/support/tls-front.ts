// A TLS terminator in Node for a plaintext server on loopback, negotiating ALPN h2: what the Temporal
// worker's Rust core demands of a proxy (stunnel 5.68 offers no ALPN; see test/temporal/tls.test.ts).
// Mutual TLS: a client without a certificate chaining to `clientCa` is refused in the handshake.
import { connect, type AddressInfo } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';

export interface NodeTlsFront {
  address: string;
  stop(): Promise<void>;
}

export async function startNodeTlsFront(target: string, pems: { certChain: string; key: string; clientCa: string }): Promise<NodeTlsFront> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const sockets = new Set<TLSSocket>();
  const server = createServer({ cert: pems.certChain, key: pems.key, ca: pems.clientCa, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] }, (tls) => {
    sockets.add(tls);
    const upstream = connect(port, host);
    tls.pipe(upstream).pipe(tls);
    const end = () => (tls.destroy(), upstream.destroy(), sockets.delete(tls));
    tls.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  server.on('tlsClientError', () => {}); // refused handshakes are the point of some tests
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
