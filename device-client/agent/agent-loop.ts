// The long-running agent: one check-in round (checkin.ts) after another, every pollAfterSeconds
// with jitter, until its signal aborts; after each round the window's signed heartbeat when it is
// due (reports/heartbeat.ts), and never a sleep past the next one.
import { sendHeartbeatIfDue, heartbeatDueInSeconds, type HeartbeatOutcome } from '../reports/heartbeat.js';
import { systemMetrics } from '../reports/metrics.js';
import { checkInOnce, type AgentOptions, type CheckInResult } from './checkin.js';
import type { Device } from './device.js';
import { deviceGatewayClient } from './device-certificate.js';
import { deviceKeyFor } from './enroll.js';
import { attestIfDue } from '../tpm/attest-due.js';

/**
 * The long-running agent: boot check, then a check-in every pollAfterSeconds scaled by
 * 1 ± config.intervals.checkJitter, until `signal` aborts (SIGTERM in the CLI). A failing round
 * is logged and retried at the next poll; it never ends the loop. A heartbeat that cannot be sent
 * is logged and tried again after the next round.
 */
export async function runAgentLoop(
  device: Device,
  options: AgentOptions & { signal: AbortSignal; onRound?: (result: CheckInResult) => void; onHeartbeat?: (outcome: HeartbeatOutcome) => void },
): Promise<void> {
  const random = options.random ?? Math.random;
  const log = options.log ?? (() => undefined);
  const jitter = device.config.intervals.checkJitter;
  while (!options.signal.aborted) {
    let heartbeatFailed = false;
    let waitSeconds = device.config.intervals.checkSeconds;
    try {
      const result = await checkInOnce(device, options);
      options.onRound?.(result);
      waitSeconds = result.pollAfterSeconds;
      // TPM devices register their attestation key once and send a fresh quote when one is due (docs/attestation.md).
      if (result.outcome !== 'offline' && device.config.gatewayUrl && device.config.tpm) {
        await attestIfDue(device.config, options.client ?? deviceGatewayClient(device.config)).catch((error: Error) => log(`attestation not sent: ${error.message}`));
      }
      if (result.outcome !== 'offline' && device.config.gatewayUrl && device.config.heartbeat.enabled) {
        const outcome = await sendHeartbeatIfDue(device, {
          client: options.client ?? deviceGatewayClient(device.config),
          key: options.key ?? (await deviceKeyFor(device.config)),
          metrics: options.metrics ?? systemMetrics(device.config),
        });
        options.onHeartbeat?.(outcome);
        if (outcome.kind === 'failed') {
          heartbeatFailed = true;
          log(`heartbeat not sent: ${outcome.reason}`);
        }
      }
    } catch (error) {
      if (options.signal.aborted) break;
      log(`check-in round failed: ${(error as Error).message}`);
    }
    // Wake for the next heartbeat, unless this one failed (then it waits for the next round).
    if (device.config.heartbeat.enabled && !heartbeatFailed) waitSeconds = Math.min(waitSeconds, Math.max(1, await heartbeatDueInSeconds(device).catch(() => waitSeconds)));
    const delayMs = Math.max(0, waitSeconds * 1000 * (1 + jitter * (2 * random() - 1)));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, delayMs);
      function done() {
        clearTimeout(timer);
        options.signal.removeEventListener('abort', done);
        resolve();
      }
      options.signal.addEventListener('abort', done, { once: true });
    });
  }
}
