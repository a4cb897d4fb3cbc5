// The post-boot health check: minimum uptime, then every command, service and HTTP probe from
// the device config. The slot is committed only if all pass; each result is kept for the report.
import type { HealthConfig } from '../config.js';
import { runCommandCheck, type CheckOutcome } from './command-check.js';
import { runHttpProbe } from './http-probe.js';
import { waitForUptime } from './uptime.js';

export interface HealthCheckResult extends CheckOutcome {
  kind: 'uptime' | 'command' | 'service' | 'http';
  name: string;
  durationMs: number;
}

export interface HealthCheckSummary {
  ok: boolean;
  checks: HealthCheckResult[];
}

/** skipUptime: a heartbeat re-runs the checks of a running device, without waiting for a minimum uptime. */
export async function runHealthChecks(config: HealthConfig, options: { skipUptime?: boolean } = {}): Promise<HealthCheckSummary> {
  const checks: HealthCheckResult[] = [];
  const timed = async (kind: HealthCheckResult['kind'], name: string, run: () => Promise<CheckOutcome>) => {
    const started = Date.now();
    checks.push({ kind, name, ...(await run()), durationMs: Date.now() - started });
  };
  if (!options.skipUptime) await timed('uptime', 'minimum uptime', () => waitForUptime(config.uptimePath, config.minUptimeSeconds));
  for (const check of config.commands) await timed('command', check.name, () => runCommandCheck(check.run, check.timeoutMs));
  for (const service of config.requiredServices) {
    await timed('service', service, () => runCommandCheck([...config.serviceCheck, service], config.serviceTimeoutMs));
  }
  for (const probe of config.http) await timed('http', probe.name, () => runHttpProbe(probe.url, probe.timeoutMs, probe.expectStatus));
  return { ok: checks.every((c) => c.ok), checks };
}

export function describeFailures(report: HealthCheckSummary): string {
  return report.checks
    .filter((c) => !c.ok)
    .map((c) => `${c.kind} ${c.name}: ${c.detail}`)
    .join('; ');
}
