// `ota-device mark-good` / `mark-bad`: an operator's (or an external health monitor's) verdict on
// the running slot, through the same transitions as the boot check.
import type { HealthCheckSummary } from '../health/health-checks.js';
import { bootCheck, rejectTrialBoot, type BootCheckResult } from './boot-check.js';
import type { Device } from './device.js';

const operatorSaysHealthy = async (): Promise<HealthCheckSummary> => ({ ok: true, checks: [] });

/** Commit the running slot without running the health checks (no-op if it is committed already). */
export function markRunningSlotGood(device: Device): Promise<BootCheckResult> {
  return bootCheck(device, { health: operatorSaysHealthy });
}

/** Take the running slot out of the rotation: the next boot falls back to the other (committed) slot. */
export async function markRunningSlotBad(device: Device, reason = 'marked bad by the operator'): Promise<BootCheckResult> {
  const booted = await device.bootedSlot();
  const agent = await device.agentState.read();
  return rejectTrialBoot(device, booted, agent.slots[booted]?.version, reason, 'health');
}
