// The long-running agent: one check-in round (checkin.ts) after another, every pollAfterSeconds
// with jitter, until its signal aborts.
import { checkInOnce, type AgentOptions, type CheckInResult } from './checkin.js';
import type { Device } from './device.js';

/**
 * The long-running agent: boot check, then a check-in every pollAfterSeconds scaled by
 * 1 ± config.intervals.checkJitter, until `signal` aborts (SIGTERM in the CLI). A failing round
 * is logged and retried at the next poll; it never ends the loop.
 */
export async function runAgentLoop(device: Device, options: AgentOptions & { signal: AbortSignal; onRound?: (result: CheckInResult) => void }): Promise<void> {
  const random = options.random ?? Math.random;
  const log = options.log ?? (() => undefined);
  const jitter = device.config.intervals.checkJitter;
  while (!options.signal.aborted) {
    let waitSeconds = device.config.intervals.checkSeconds;
    try {
      const result = await checkInOnce(device, options);
      options.onRound?.(result);
      waitSeconds = result.pollAfterSeconds;
    } catch (error) {
      if (options.signal.aborted) break;
      log(`check-in round failed: ${(error as Error).message}`);
    }
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
