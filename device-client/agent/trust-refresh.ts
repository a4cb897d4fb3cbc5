// At each gateway check-in a device that pins a TUF root walks the gateway's metadata even when nothing is
// offered: it follows root rotations and revocations while idle, and a gateway that keeps answering
// "nothing new" with a timestamp nobody re-signs is noticed (the device becomes frozen, `status` and its
// reports say since when). A walk that is refused changes nothing; one that verifies is kept, and with
// it the gateway answer keys and fleet CA roots its targets list (gateway-trust.ts), which the next
// check-in and the next TLS connection use.
import { TrustError } from '../../trust/errors.js';
import type { GatewayClient } from '../gateway/gateway-client.js';
import type { DeviceConfig } from '../config.js';
import type { Frozen } from '../../schemas/device-api.js';
import { frozenSince, readDeviceTrust, writeDeviceTrust } from './device-trust.js';
import { gatewayTrustOf, keepGatewayTrust } from './gateway-trust.js';
import { metadataCacheDir, walkMetadata } from './release-trust.js';
import { gatewayMetadataReader } from './tuf-sources.js';

export type TrustRefresh =
  | { outcome: 'no-tuf' }
  | { outcome: 'refreshed'; rootVersion: number; timestampVersion: number; expires: string; gatewayTrust?: { targetsVersion: number; answerKeys: number; fleetCaRoots: number } }
  | { outcome: 'refused'; code: string; message: string; frozen?: Frozen };

export async function refreshTrustFromGateway(config: Pick<DeviceConfig, 'trust' | 'stateDir'>, client: GatewayClient, now = new Date()): Promise<TrustRefresh> {
  const trust = await readDeviceTrust(config);
  if (!trust) return { outcome: 'no-tuf' };
  try {
    const { verified, next } = await walkMetadata(gatewayMetadataReader(client), trust, now, metadataCacheDir(config));
    // Read before anything is written: a document the device cannot use refuses the whole walk.
    const gateway = gatewayTrustOf(verified.targets);
    await writeDeviceTrust(config, next, now);
    await keepGatewayTrust(config, gateway, now);
    return {
      outcome: 'refreshed',
      rootVersion: next.root.signed.version,
      timestampVersion: next.seen.timestamp!,
      expires: next.timestampExpires,
      ...(gateway && { gatewayTrust: { targetsVersion: gateway.targetsVersion, answerKeys: gateway.answerKeys.length, fleetCaRoots: gateway.fleetCaRoots.length } }),
    };
  } catch (err) {
    if (!(err instanceof TrustError)) throw err;
    const frozen = frozenSince(trust, now);
    return { outcome: 'refused', code: err.code, message: err.message, ...(frozen && { frozen }) };
  }
}
