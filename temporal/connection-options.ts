// What both Temporal connections (the client's Connection, the worker's NativeConnection) get from
// `temporal.tls` and `temporal.apiKey`: TLS on when either is set, the CA, client pair and server
// name read from their files up front, so a missing file fails at start with its path.
import { readFile } from 'node:fs/promises';
import type { TLSConfig } from '@temporalio/client';
import type { TemporalConfig } from '../schemas/config.js';

export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
}

async function pem(path: string, field: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new Error(`temporal.tls.${field} ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

export async function temporalConnectionOptions(cfg: TemporalConfig): Promise<TemporalConnectionOptions> {
  const { tls, apiKey } = cfg;
  if (!tls && !apiKey) return { address: cfg.address };
  const options: TLSConfig = {};
  if (tls?.serverCaPath) options.serverRootCACertificate = await pem(tls.serverCaPath, 'serverCaPath');
  if (tls?.clientCertPath && tls.clientKeyPath) {
    options.clientCertPair = { crt: await pem(tls.clientCertPath, 'clientCertPath'), key: await pem(tls.clientKeyPath, 'clientKeyPath') };
  }
  if (tls?.serverName) options.serverNameOverride = tls.serverName;
  return { address: cfg.address, tls: options, ...(apiKey ? { apiKey } : {}) };
}

/** How the connection is secured, for start-up lines: `plaintext`, `TLS`, `mTLS`, `+ API key`. */
export function describeTransport(cfg: TemporalConfig): string {
  if (!cfg.tls && !cfg.apiKey) return 'plaintext';
  const tls = cfg.tls?.clientCertPath ? 'mTLS' : 'TLS';
  return cfg.apiKey ? `${tls} + API key` : tls;
}
