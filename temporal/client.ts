// Connects the CLI to Temporal with an error that says what to do when the server is not there.
import { Client, Connection } from '@temporalio/client';
import type { TemporalConfig } from '../schemas/config.js';

export class TemporalUnavailableError extends Error {
  constructor(address: string, cause: unknown) {
    super(`cannot reach Temporal at ${address} (${(cause as Error)?.message ?? cause}); start the local stack with \`ota dev up\` or set temporal.address`);
    this.name = 'TemporalUnavailableError';
  }
}

export interface ConnectedClient {
  client: Client;
  close(): Promise<void>;
}

export async function connectClient(cfg: TemporalConfig, opts: { connectTimeoutMs?: number } = {}): Promise<ConnectedClient> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: cfg.address, connectTimeout: opts.connectTimeoutMs ?? 5_000 });
  } catch (err) {
    throw new TemporalUnavailableError(cfg.address, err);
  }
  const client = new Client({ connection, namespace: cfg.namespace });
  return { client, close: () => connection.close() };
}
