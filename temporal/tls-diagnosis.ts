// When a TLS connection to Temporal fails, the SDKs say only "Failed to connect before the deadline"
// (grpc-js) or a tonic transport error. One TLS handshake of our own with the same CA, client pair and
// server name tells which part is wrong, in words that name the config field to fix.
import { connect, type ConnectionOptions } from 'node:tls';
import type { TemporalConnectionOptions } from './connection-options.js';

const HINTS: Array<[RegExp, string]> = [
  [/CERTIFICATE_REQUIRED|certificate required/i, 'the server requires a client certificate: set temporal.tls.clientCertPath and clientKeyPath'],
  [/UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|DECRYPT_ERROR/i, 'the server refused our client certificate: is it issued by the CA the server trusts, and not expired?'],
  [/ALTNAME|Hostname\/IP does not match/i, 'the server certificate does not name this host: set temporal.tls.serverName to a name it carries'],
  [/ISSUER|SELF_SIGNED|UNABLE_TO_VERIFY|CERT_UNTRUSTED/i, 'the server certificate is not trusted: set temporal.tls.serverCaPath to the CA that issued it'],
  [/CERT_HAS_EXPIRED|CERT_NOT_YET_VALID/i, 'the server certificate is outside its validity period'],
  [/WRONG_VERSION_NUMBER|packet length too long/i, 'the server does not speak TLS at this address: drop temporal.tls, or use its TLS port'],
];

function hintFor(error: NodeJS.ErrnoException): string {
  const text = `${error.code ?? ''} ${error.message}`;
  return HINTS.find(([pattern]) => pattern.test(text))?.[1] ?? `TLS handshake failed (${error.code ?? error.message})`;
}

/** A one-line reason, or undefined when the handshake works (the failure is elsewhere) or TLS is off. */
export async function diagnoseTls(options: TemporalConnectionOptions, timeoutMs = 3_000): Promise<string | undefined> {
  if (!options.tls) return undefined;
  const colon = options.address.lastIndexOf(':');
  const host = options.address.slice(0, colon);
  const tls: ConnectionOptions = {
    host,
    port: Number(options.address.slice(colon + 1)),
    servername: options.tls.serverNameOverride ?? host,
    ALPNProtocols: ['h2'],
    ...(options.tls.serverRootCACertificate ? { ca: Buffer.from(options.tls.serverRootCACertificate) } : {}),
    ...(options.tls.clientCertPair ? { cert: Buffer.from(options.tls.clientCertPair.crt), key: Buffer.from(options.tls.clientCertPair.key) } : {}),
  };
  return new Promise((resolve) => {
    const socket = connect(tls);
    const done = (reason: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reason);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.once('error', (err) => done(hintFor(err)));
    socket.once('secureConnect', () => {
      // TLS 1.3 sends a refused client certificate's alert after the handshake: wait for it briefly.
      setTimeout(() => done(socket.alpnProtocol === 'h2' ? undefined : 'the TLS endpoint does not negotiate ALPN h2, which gRPC needs (a TLS proxy in front of Temporal must offer h2)'), 300);
    });
  });
}
