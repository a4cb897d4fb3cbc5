// A real gateway (gateway/server.ts on 127.0.0.1, any free port) in a throwaway folder: a PGlite
// fleet store in <root>/fleet and a local artifact store in <root>/artifacts. close() stops the
// gateway, closes both stores and removes the folder.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { FleetStore } from '../../fleet/fleet-store.js';
import { startGateway, type GatewayOptions, type RunningGateway } from '../../gateway/server.js';
import { LocalArtifactStore } from '../../stores/local-store.js';

export interface TempGateway {
  root: string;
  fleet: FleetStore;
  store: LocalArtifactStore;
  gateway: RunningGateway;
  close(): Promise<void>;
}

type ExtraOptions = Omit<GatewayOptions, 'host' | 'port' | 'version' | 'fleet' | 'store' | 'logError'> & {
  /** Serve this artifact store folder (e.g. a published fixture's) instead of an empty one in the temp folder. */
  storeDir?: string;
};

/** `prefix` names the temp folder (e.g. 'ota-report-queue-'); unexpected errors are not logged. */
export async function startTempGateway(prefix: string, options: ExtraOptions = {}): Promise<TempGateway> {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const { storeDir, ...gatewayOptions } = options;
  const store = new LocalArtifactStore(storeDir ?? join(root, 'artifacts'));
  const fleet = await FleetStore.open(`pglite:${join(root, 'fleet')}`);
  const gateway = await startGateway({ host: '127.0.0.1', port: 0, version: 'test', fleet, store, ...gatewayOptions, logError: () => {} });
  return {
    root, fleet, store, gateway,
    async close() {
      await gateway.close();
      await fleet.close();
      await store.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * startTempGateway before the tests of the current file or describe block, close after them. The
 * returned object is filled in by the beforeAll hook: read its fields inside tests, not at load.
 */
export function useTempGateway(prefix: string, options: ExtraOptions = {}): TempGateway {
  const env = {} as TempGateway;
  beforeAll(async () => {
    Object.assign(env, await startTempGateway(prefix, options));
  });
  afterAll(async () => {
    await env.close?.();
  });
  return env;
}
