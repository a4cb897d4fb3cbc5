// The README's first command: `npm run demo` must work on the embedded default. This runs the
// real `ota demo` (compiled CLI, real Temporal dev server from temporal-dev.yml) end to end.
import { existsSync, mkdtempSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../platform/paths.js';

const built = existsSync(join(projectRoot, 'dist', 'cli', 'ota.js'));
if (!built) console.warn('SKIPPING demo test: dist/ is missing; run `npm test` (its pretest builds) or `npm run build`');

/** Why the demo failed: its failing steps from the --json summary on stdout (stderr's tail only shows the last steps), then stderr's tail. */
function failureReport(run: { stdout: string; stderr: string; signal: NodeJS.Signals | null; error?: Error }): string {
  let failed = 'no JSON summary on stdout';
  try {
    const summary = JSON.parse(run.stdout) as { steps?: Array<{ title: string; ok: boolean; detail?: string }>; error?: string };
    const steps = (summary.steps ?? []).filter((step) => !step.ok).map((step) => `${step.title}: ${step.detail ?? '(no detail)'}`);
    failed = [...steps, ...(summary.error ? [summary.error] : [])].join('\n') || 'every step in the summary is ok';
  } catch {
    if (run.stdout.trim()) failed = `stdout (not JSON): ${run.stdout.slice(-1500)}`;
  }
  const ended = run.error ? `spawn: ${run.error.message}` : run.signal ? `killed by ${run.signal}` : '';
  return [`failing steps:\n${failed}`, ended, `stderr tail:\n${run.stderr.slice(-2500)}`].filter(Boolean).join('\n');
}

describe.skipIf(!built)('ota demo', () => {
  it('publishes, verifies, rejects tampering, rolls out to a simulated fleet, rolls back a crash-looping release and stops', () => {
    const stateDir = join(mkdtempSync(join(tmpdir(), 'ota-demo-')), 'state');
    const run = spawnSync(process.execPath, [join(projectRoot, 'bin', 'ota.js'), 'demo', '--json', '--state-dir', stateDir], {
      encoding: 'utf8',
      timeout: 600_000, // generous: the machine may be shared; mTLS adds handshakes to every device conversation
    });
    expect(run.status, failureReport(run)).toBe(0);
    const summary = JSON.parse(run.stdout) as { ok: boolean; steps: Array<{ title: string; ok: boolean; detail?: string }> };
    expect(summary.ok).toBe(true);
    const titles = summary.steps.map((s) => s.title);
    expect(titles).toContain('release 1.1.0 carries a delta from 1.0.0');
    expect(titles).toContain('rollout of 1.1.0 reached the whole fleet');
    expect(titles).toContain('crash-looping 1.2.0 halted in the canary ring and rolled back');
    expect(titles).toContain('a one-byte change to the manifest is rejected');
    // Device noise is on: the good rollout completes through it; the crash-looping one stops in the canary.
    const step = (title: string) => summary.steps.find((s) => s.title === title)!;
    expect(step('rollout of 1.1.0 reached the whole fleet')).toMatchObject({ ok: true, detail: expect.stringMatching(/installs failed for unrelated reasons \(device noise\)/) });
    expect(step('crash-looping 1.2.0 halted in the canary ring and rolled back')).toMatchObject({ ok: true, detail: expect.stringMatching(/^exposure [1-5]\/(99|100); breach: /) });
    // Devices speak mutual TLS to the gateway: the demo's own fleet CA, a certificate per device.
    expect(titles).toContain('create the fleet CA (offline root, issuing intermediate)');
    expect(step('start gateway + worker (ota serve, mutual TLS)')).toMatchObject({ ok: true, detail: expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+$/) });
    expect(step('enroll 100 simulated devices').detail).toMatch(/100 hold a 24 h client certificate from the fleet CA/);
    expect(run.stderr).toMatch(/Root CA/);
    expect(step('stop the stack')).toMatchObject({ ok: true });
    // The attestation scene: a tampered slot measurement quarantines one device, the last good release remediates it.
    expect(step('a device with a tampered slot measurement was quarantined and remediated by its last good release')).toMatchObject({ ok: true, detail: expect.stringMatching(/: remediated, runs 1\.0\.0; .*DRIFT:unexpected-measurement/) });
    expect(step('release it after remediation (recorded with who and why)')).toMatchObject({ ok: true });
    expect(run.stderr).toMatch(/unexpected-measurement .*measured=/);
    // Nothing left running: the stack's recorded services are gone.
    const status = spawnSync(process.execPath, [join(projectRoot, 'bin', 'ota.js'), 'dev', 'status', '--json', '--state-dir', stateDir, '-f', join(projectRoot, 'temporal-dev.yml')], { encoding: 'utf8' });
    const { services } = JSON.parse(status.stdout) as { services: Array<{ name: string; state: string }> };
    expect(services.find((s) => s.name === 'temporal')?.state).not.toBe('running');
  }, 610_000);
});
