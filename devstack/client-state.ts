// What a client of the running stack needs, read off the stack file: exactly the configuration the
// stack's own worker gets (its OTA_* environment through the same bindings config loading uses, and
// its S3 keys), so a command can never put an image where the worker does not look.
import { ENV_BINDINGS } from '../config/env-bindings.js';
import { setPath } from '../config/load-config.js';
import type { StackState } from '../config/stack-state.js';
import type { StackDefinition } from './stackFile.js';

/** The service whose configuration clients share, and the one serving the operator API. */
export const CONFIG_SERVICE = 'worker';
export const API_SERVICE = 'api';

export function clientConfig(stack: StackDefinition, fleetDatabaseUrl: string | undefined): Record<string, unknown> {
  const environment = stack.services.get(CONFIG_SERVICE)?.native.environment ?? {};
  const tree: Record<string, unknown> = {};
  for (const [name, binding] of Object.entries(ENV_BINDINGS)) {
    const raw = environment[name];
    if (raw === undefined || raw === '') continue;
    for (const [path, value] of Object.entries(binding(raw))) setPath(tree, path, value);
  }
  if (fleetDatabaseUrl) setPath(tree, 'fleet.databaseUrl', fleetDatabaseUrl);
  const store = tree.store as Record<string, unknown> | undefined;
  if (store?.kind === 's3' && environment.AWS_ACCESS_KEY_ID && environment.AWS_SECRET_ACCESS_KEY) {
    store.credentials = { accessKeyId: environment.AWS_ACCESS_KEY_ID, secretAccessKey: environment.AWS_SECRET_ACCESS_KEY };
  }
  return tree;
}

/** The operator API's base URL: its readiness probe's origin (loopback, the port the file chose). */
export function operatorApiUrl(stack: StackDefinition): string | undefined {
  const api = stack.services.get(API_SERVICE);
  for (const probe of api?.native.ready ?? []) {
    if ('http' in probe && typeof probe.http === 'string') return new URL(probe.http).origin;
  }
  return undefined;
}

export function stackState(stack: StackDefinition, fleetDatabaseUrl: string | undefined, operatorApi?: StackState['operatorApi']): StackState {
  return { version: 1, stackFile: stack.file, writtenAt: new Date().toISOString(), config: clientConfig(stack, fleetDatabaseUrl), ...(operatorApi ? { operatorApi } : {}) };
}
