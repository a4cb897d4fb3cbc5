// `ota gateway` / `ota serve` TLS flags: the session ticket key file must hold exactly 48 bytes and
// goes with a certificate; a wrong file is one clear error before anything listens.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { gatewayTls, type GatewayFlags } from '../../cli/commands/gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'ota-gateway-tls-flags-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, bytes: Buffer | string) => {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
};
const flags = (extra: Partial<GatewayFlags>): GatewayFlags => ({ host: '127.0.0.1', port: '0', nonceTtl: '300', pollAfter: '300', releasePolicy: 'rollouts', deviceCertHours: '24', ...extra });

it('reads a 48-byte ticket key beside the certificate, and refuses any other size or a key without a certificate', () => {
  const tlsCert = file('cert.pem', 'CERT');
  const tlsKey = file('key.pem', 'KEY');
  const ticket = Buffer.alloc(48, 7);
  expect(gatewayTls(flags({ tlsCert, tlsKey, tlsTicketKey: file('ticket.key', ticket) }))?.ticketKeys).toEqual(ticket);
  expect(gatewayTls(flags({ tlsCert, tlsKey }))?.ticketKeys).toBeUndefined();
  const short = file('short.key', Buffer.alloc(32));
  expect(() => gatewayTls(flags({ tlsCert, tlsKey, tlsTicketKey: short }))).toThrow(`--tls-ticket-key ${short}: must hold exactly 48 bytes (head -c 48 /dev/urandom > ${short}), it holds 32`);
  // A hex text of the key is not the key: 96 characters and a newline.
  const hex = file('hex.key', `${ticket.toString('hex')}\n`);
  expect(() => gatewayTls(flags({ tlsCert, tlsKey, tlsTicketKey: hex }))).toThrow('it holds 97');
  expect(() => gatewayTls(flags({ tlsTicketKey: file('alone.key', ticket) }))).toThrow('--tls-ticket-key needs --tls-cert and --tls-key');
});
