// A simulated device with its own software TPM, enrolled with its TPM-held key and with its
// attestation key registered at the gateway: what the attestation e2e and attack tests start from.
import { join } from 'node:path';
import type { AgentOptions } from '../../device-client/agent/checkin.js';
import { enrollDevice } from '../../device-client/agent/enroll.js';
import type { AttestationPolicy } from '../../attestation/standing.js';
import { attestToGateway, registerAttestationKey, type AttestingDevice } from '../../device-client/tpm/attest.js';
import { GatewayClient } from '../../device-client/gateway/gateway-client.js';
import type { TestGateway } from './device-gateway.js';
import type { PublishedFixture } from './device-releases.js';
import { createSimDevice, type SimDevice } from './device-sim.js';
import { startSoftwareTpm, type SoftwareTpm } from './swtpm.js';

/** The policy the attestation tests run the gateway with: 24 h evidence, 10 min grace, last good release as remediation. */
export const TEST_POLICY: AttestationPolicy = { maxEvidenceAgeSeconds: 86_400, requireTpm: false, graceSeconds: 600, remediation: 'last-good' };

/** Agent options without waits or real metrics. */
export const FAST_AGENT: AgentOptions = { random: () => 0.5, metrics: async () => ({ bootCount: 1, metrics: { crashCount: 0, uptimeSeconds: 120, freeMemoryBytes: 64 << 20 }, custom: {} }) };

export interface TpmSimDevice {
  sim: SimDevice;
  tpm: SoftwareTpm;
  client: GatewayClient;
  attesting: AttestingDevice;
  attest(): ReturnType<typeof attestToGateway>;
}

/** A simulated device with a TPM, admitted by a single-use token from the gateway's fleet store, its AK registered. */
export async function createTpmDevice(dir: string, fixture: PublishedFixture, gateway: Pick<TestGateway, 'url' | 'tokenFor'>, deviceId: string, factory = '1.0.0'): Promise<TpmSimDevice> {
  const gatewayUrl = gateway.url;
  const tpm = await startSoftwareTpm(join(dir, 'tpm'));
  const sim = await createSimDevice(join(dir, 'device'), fixture, {
    factory: fixture.releases[factory]!,
    tpm,
    config: { deviceId, gatewayUrl, download: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50, stallTimeoutMs: 5000 } },
  });
  await enrollDevice(sim.config, { token: await gateway.tokenFor(deviceId) });
  const client = new GatewayClient(gatewayUrl);
  // Tests restart the TPM (a power cycle changes its port): read the TCTI at each use.
  const attesting: AttestingDevice = { deviceId, get tpm() { return { tcti: tpm.tcti, pcr: 16 }; } };
  await registerAttestationKey(attesting, client);
  return { sim, tpm, client, attesting, attest: () => attestToGateway(attesting, client) };
}
