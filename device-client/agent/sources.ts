// Opens the UpdateSource a reference names: `gateway:<url>` (what gateway installs record in the
// install journal, so a restarted agent can start over from the gateway) or an offline bundle
// (folder, tar, file:// URI).
import { GatewayClient } from '../gateway/gateway-client.js';
import { downloadDirOf, GatewaySource, gatewayUrlFromRef } from './gateway-source.js';
import type { RetryPolicy } from './download.js';
import { OfflineBundleSource } from './offline-bundle.js';
import type { UpdateSource } from './update-source.js';

export type OpenSource = (ref: string) => Promise<UpdateSource>;

export interface GatewaySourceSettings {
  stateDir: string;
  retry: RetryPolicy;
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** The device's client for a gateway URL (pinned fleet CA, client certificate); default a plain one. */
  clientFor?: (url: string) => GatewayClient;
}

/** Offline bundles always; `gateway:` references when `gateway` says where downloads go. */
export function sourceOpener(scratchDir: string, gateway?: GatewaySourceSettings): OpenSource {
  return async (ref) => {
    const url = gatewayUrlFromRef(ref);
    if (url === undefined) return OfflineBundleSource.open(ref, scratchDir);
    if (!gateway) throw new Error(`cannot reopen ${ref}: no gateway settings`);
    return new GatewaySource({ client: gateway.clientFor?.(url) ?? new GatewayClient(url), downloadDir: downloadDirOf(gateway.stateDir), retry: gateway.retry, log: gateway.log, signal: gateway.signal });
  };
}
