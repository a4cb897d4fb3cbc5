// Connects the CLI to Temporal with an error that says what to do when the server is not there.
import { Client, Connection } from '@temporalio/client';
import type { TemporalConfig } from '../schemas/config.js';
import { temporalConnectionOptions, type TemporalConnectionOptions } from './connection-options.js';
import { diagnoseTls } from './tls-diagnosis.js';

export class TemporalUnavailableError extends Error {
  /** tlsProblem: what a TLS handshake of our own found wrong (see tls-diagnosis.ts). */
  constructor(address: string, cause: unknown, tlsProblem?: string) {
    super(
      tlsProblem
        ? `cannot connect to Temporal at ${address} over TLS: ${tlsProblem}`
        : `cannot reach Temporal at ${address} (${(cause as Error)?.message ?? cause}); start the local stack with \`ota dev up\` or set temporal.address`,
    );
    this.name = 'TemporalUnavailableError';
  }

  static async explain(options: TemporalConnectionOptions, cause: unknown): Promise<TemporalUnavailableError> {
    return new TemporalUnavailableError(options.address, cause, await diagnoseTls(options));
  }
}

export interface ConnectedClient {
  client: Client;
  close(): Promise<void>;
}

export async function connectClient(cfg: TemporalConfig, opts: { connectTimeoutMs?: number } = {}): Promise<ConnectedClient> {
  const options = await temporalConnectionOptions(cfg);
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...options, connectTimeout: opts.connectTimeoutMs ?? 5_000 });
  } catch (err) {
    throw await TemporalUnavailableError.explain(options, err);
  }
  const client = new Client({ connection, namespace: cfg.namespace });
  return { client, close: () => connection.close() };
}
