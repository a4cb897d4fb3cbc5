import { cpus, loadavg } from 'node:os';

// The rollout benchmark's noisy-fleet runs (bench/rollout.mjs calls runNoiseScenarios): a second
// fleet (default 2,000 devices) on the same real stack, with seeded device noise (sim/fleet-noise.ts):
// 10% of devices silent (never check in), 2% of installs failing with a report, 2% of heartbeat
// windows failing on any release (every reachable device heartbeats once per round). Three rollouts with a sequential policy shaped like docs/examples/rollout-policy.yml
// (bake and deadlines in seconds): a good release, a release that fails 20% of devices with a
// report (boot failure, falls back), and one that bricks 20% (no report ever: timed out at the
// install deadline). For each: the outcome, where it stopped, the exposure, whether every exposed
// device that can be reached is back on the previous release, and the halt delay.
//
// Halt delay: from the moment the failure that crossed the breaching cap became known (its report,
// or a bricked device's install deadline passing) to the moment the fleet store holds or rolls back
// the rollout at check-in.

// With heartbeats each ring runs two tests: install outcomes against baselineRate, post-commit
// health (heartbeat windows) against the control, or in the last ring against the frozen reference.
export const NOISE = { silentShare: 0.1, installFailureRate: 0.02, heartbeatFailureRate: 0.02 };
const INSTALL_DEADLINE_MS = 10_000;
/** Longer than the install deadline: a ring cannot pass before its bricked devices count as timed out. */
const BAKE = '15s';

/** The example policy's statistics and ring shape, with seconds for hours; minReports at half of each ring. */
function noisePolicy(parsePolicy, hardware, devices, canaryOnBreach) {
  const half = (cumulative, before) => Math.max(1, Math.floor((cumulative - before) / 2));
  const early = Math.round(devices * 0.1);
  const wide = Math.round(devices * 0.25);
  const ring = (name, size, minReports, thresholds, extra = {}) => ({ name, size, bakeTime: BAKE, decisionDeadline: '180s', atDeadline: 'pass', installDeadline: `${INSTALL_DEADLINE_MS / 1000}s`, minReports, thresholds, onBreach: 'halt', ...extra });
  return parsePolicy({
    target: { hardware, labels: { pool: 'noisy' } },
    rings: [
      ring('canary', { count: 100 }, 50, { failureRate: 0.25, maxFailures: 10, perKind: { boot: { count: 0 } } }, { minEffect: 0.18, beta: 0.01, onBreach: canaryOnBreach }),
      ring('early', { percent: 10 }, half(early, 100), { failureRate: 0.1, maxFailures: 60 }),
      ring('wide', { percent: 25 }, half(wide, early), { failureRate: 0.08, maxFailures: 90 }),
      ring('fleet', { percent: 100 }, half(devices, wide), { failureRate: 0.06, maxFailures: 300 }, { atDeadline: 'inconclusive' }),
    ],
    statistics: { mode: 'sequential', alpha: 0.01, beta: 0.05, minEffect: 0.03, baselineRate: 0.02 },
    exposureBudget: { percent: 100 },
    // Bricked devices stay "installing" for good: slots for everyone keep the rest moving.
    maxConcurrentInstalls: devices,
    pollInterval: '1s',
  });
}

/**
 * ctx: { client, fleetStore, gateway, ProtocolFleet, bricks, parsePolicy, rolloutWorkflow, rolloutStatusQuery,
 * hardware, preauthorize, fleetCaPem (mTLS), trustRoot, factory (the image the pool starts on), releases: { good, failing, bricking }, devices, say }.
 */
export async function runNoiseScenarios(ctx) {
  const { say, devices } = ctx;
  say(`noisy fleet: enrolling ${devices} devices (${NOISE.silentShare * 100}% silent, ${NOISE.installFailureRate * 100}% install noise, ${NOISE.heartbeatFailureRate * 100}% heartbeat noise)`);
  let started = Date.now();
  let deviceErrors = 0;
  const fleet = await ctx.ProtocolFleet.enroll({
    count: devices, hardwareId: ctx.hardware, channel: 'stable', gatewayUrl: ctx.gateway.url, preauthorize: ctx.preauthorize,
    trustRoot: ctx.trustRoot, factory: ctx.factory, idPrefix: 'noisy', labelsFor: () => ({ pool: 'noisy' }), concurrency: 32, fleetCaPem: ctx.fleetCaPem,
    noise: { seed: 2026, ...NOISE },
    onDeviceError: (id, error) => {
      deviceErrors++;
      if (deviceErrors <= 5) say(`  device ${id}: ${error instanceof Error ? error.message : String(error)} (it tries again next round)`);
    },
  });
  const results = { devices, noise: NOISE, loadAverage: loadavg()[0], enrollSeconds: (Date.now() - started) / 1000, silent: devices - fleet.reachable().length, installDeadlineSeconds: INSTALL_DEADLINE_MS / 1000 };

  const scenario = async (name, version, outcome, canaryOnBreach) => {
    const policy = noisePolicy(ctx.parsePolicy, ctx.hardware, devices, canaryOnBreach);
    say(`noisy fleet: ${name} (${version})`);
    /** When each failure became known to the fleet store: its report, or (bricked) its install deadline passing. */
    const failures = [];
    const behaviour = (device, release) => {
      const o = outcome(device, release);
      // Refined below from the fleet store: the deadline runs from the gateway's offer, not from this call.
      if (o.result === 'brick') failures.push({ at: Date.now() + INSTALL_DEADLINE_MS, kind: 'timed-out', deviceId: device.id });
      else if (o.result === 'fail') failures.push({ at: Date.now(), kind: o.kind });
      return o;
    };
    const before = fleet.versions();
    const id = `bench-noisy-${version}-${Date.now()}`;
    let heldAt;
    const watcher = setInterval(async () => {
      if (heldAt) return;
      const { rows } = await ctx.fleetStore.db.query('SELECT state FROM rollouts WHERE id = $1', [id]).catch(() => ({ rows: [] }));
      if (rows.some((r) => r.state === 'rolling-back' || r.state === 'halted')) heldAt = Date.now();
    }, 20);
    started = Date.now();
    const handle = await ctx.client.workflow.start(ctx.rolloutWorkflow, { taskQueue: 'bench', workflowId: id, args: [{ rolloutId: id, hardwareId: ctx.hardware, channel: 'stable', releaseVersion: version, policy, requestedBy: 'bench' }] });
    let status = await handle.query(ctx.rolloutStatusQuery);
    let rounds = 0;
    try {
      while (!['completed', 'rolled-back', 'halted', 'waiting-approval', 'aborted'].includes(status.state)) {
        const t = Date.now();
        await fleet.tick(behaviour);
        await fleet.heartbeats();
        rounds++;
        status = await handle.query(ctx.rolloutStatusQuery);
        say(`  round ${rounds} (${((Date.now() - t) / 1000).toFixed(1)} s): ${status.state}, ring ${status.rings[status.ringIndex]?.name ?? '-'}, exposure ${status.exposure.devices}, ${JSON.stringify(fleet.versions())}`);
      }
    } finally {
      clearInterval(watcher);
    }
    const seconds = (Date.now() - started) / 1000;
    const stopped = status.rings.find((r) => r.state === 'breached');
    const decision = status.decisions.find((d) => d.action === 'rollback' || d.action === 'halt');
    const { rows: offers } = await ctx.fleetStore.db.query('SELECT device_id, offered_at FROM rollout_assignments WHERE rollout_id = $1 AND offered_at IS NOT NULL', [id]);
    const offeredAt = new Map(offers.map((r) => [r.device_id, new Date(r.offered_at).getTime()]));
    for (const f of failures) if (f.deviceId && offeredAt.has(f.deviceId)) f.at = offeredAt.get(f.deviceId) + INSTALL_DEADLINE_MS;
    failures.sort((a, b) => a.at - b.at);
    const breachingAt = breachingFailure(decision?.reason ?? '', failures);
    const reachableOnRelease = fleet.reachable().filter((d) => d.current.version === version).length;
    const result = {
      name, version, seconds, rounds, state: status.state,
      stoppedIn: stopped?.name ?? null,
      reason: decision?.reason ?? null,
      /** Why a rollout waits for a person (an inconclusive ring at its decision deadline, ...). */
      hold: status.hold ?? null,
      exposure: status.exposure.devices,
      timedOut: stopped?.health?.failuresByKind?.['timed-out'] ?? 0,
      failed: stopped?.health?.failed ?? 0,
      haltDelayMs: heldAt && breachingAt ? heldAt - breachingAt : null,
      reachableOnRelease,
      bricked: fleet.devices.filter((d) => d.bricked?.version === version).length,
      before, after: fleet.versions(),
    };
    if (status.state === 'halted' || status.state === 'waiting-approval') {
      await handle.executeUpdate(ctx.abortUpdate, { args: [{ reason: 'bench over', by: 'bench' }] }).catch(() => undefined);
    }
    await handle.result().catch(() => undefined);
    say(`  ${JSON.stringify({ ...result, before: undefined, after: undefined })}`);
    return result;
  };

  results.good = await scenario('good release', ctx.releases.good, () => ({ result: 'commit' }), 'rollback');
  results.failing = await scenario('release failing 20% with a report (boot, falls back)', ctx.releases.failing, ctx.failsShare(0.2, 7), 'rollback');
  // Halt, not rollback: the rollback target is the highest release published below this one, which
  // here is the rolled-back failing release (see docs/rollout-benchmark.md).
  results.bricking = await scenario('release bricking 20% (no report)', ctx.releases.bricking, ctx.bricks(0.2, 8), 'halt');
  results.deviceErrors = deviceErrors;
  return results;
}

/**
 * When the failure that crossed an absolute cap became known: the (cap+1)-th failure (of the kind,
 * for a per-kind cap). Undefined for a sequential-test breach (its crossing is not a fixed count).
 */
function breachingFailure(reason, failures) {
  const perKind = /(\d+) ([a-z-]+) failures, more than the (\d+) allowed/.exec(reason);
  const any = /(\d+) devices failed, more than the (\d+) allowed/.exec(reason);
  const events = perKind ? failures.filter((f) => f.kind === perKind[2]) : any ? failures : [];
  const cap = perKind ? Number(perKind[3]) : any ? Number(any[2]) : undefined;
  if (cap === undefined) return undefined;
  return events.map((f) => f.at).sort((a, b) => a - b)[cap];
}

/** The docs section for the noisy-fleet runs. */
export function noiseSection(n, pollInterval, command) {
  const row = (r) => {
    const back = r.state === 'rolled-back' ? (r.reachableOnRelease === 0 ? 'yes: no reachable device on the release' : `NO: ${r.reachableOnRelease} reachable devices still on it`) : '–';
    const delay = r.haltDelayMs === null ? '–' : `${r.haltDelayMs} ms`;
    return `| ${r.name} | ${r.state}${r.stoppedIn ? ` in ${r.stoppedIn}` : ''} | ${r.seconds.toFixed(1)} s, ${r.rounds} round${r.rounds === 1 ? '' : 's'} | ${r.exposure} | ${r.failed}${r.timedOut ? ` (${r.timedOut} timed out)` : ''} | ${back} | ${delay} | ${(r.reason ?? (r.hold ? `held for a person: ${r.hold.detail}` : '–')).replace(/\|/g, '/').slice(0, 260)} |`;
  };
  return `
## A noisy fleet

Command: \`${command}\`. A pool of ${n.devices} devices on the same stack, with seeded noise
(sim/fleet-noise.ts): ${n.silent} devices (${n.noise.silentShare * 100}%) silent (enrolled, never check in), ${n.noise.installFailureRate * 100}% of installs failing with a
reported \`install\` failure, ${n.noise.heartbeatFailureRate * 100}% of heartbeat windows failing on any release. Every reachable device sends one signed
heartbeat per round, so each ring runs two tests: install outcomes one-sample against \`baselineRate\`, post-commit health (heartbeat
windows) against the control, or, in the last ring where no control is left, against the reference frozen from earlier rings' controls. Policy: the shape and statistics of
[examples/rollout-policy.yml](examples/rollout-policy.yml) (sequential, α 1%, β 5%, +3 points over 2%; canary 100 devices looking for
+18 points with β 1% and its caps; 10%, 25%, 100%), with seconds for hours: bake ${BAKE} (longer than the install deadline), ring health read every ${pollInterval},
decision deadline 180 s, install deadline ${n.installDeadlineSeconds} s, minReports half of each ring (a silent share never reports).
Enrollment: ${n.enrollSeconds.toFixed(1)} s. Device conversations that failed under load (retried at the next round): ${n.deviceErrors ?? 0}.
Other work on the machine: 1-minute load average ${n.loadAverage === undefined ? 'not recorded' : n.loadAverage.toFixed(1)} after enrollment (on ${cpus().length} cores); times and halt delays grow with it, outcomes do not depend on it.

| release | outcome | time | exposure | failed in the ring that stopped | exposed reachable devices back on the previous release | halt delay | reason |
|---|---|---|---|---|---|---|---|
${row(n.good)}
${row(n.failing)}
${row(n.bricking)}

Halt delay: from the moment the failure that crossed the breaching cap became known (its report, or for a bricked device its
install deadline passing) to the fleet store holding the rollout at check-in; – where a sequential test halted (no fixed crossing count). A bricked device is known
only at its install deadline, so a bricking release stops ${n.installDeadlineSeconds} s (the deadline) after its devices took the offer, where a
reporting one stops at its reports. Silent devices are never offered anything, so no ring waits on them past its deadline.

Before cohorts counted heartbeat windows, two trials of this bench with heartbeats found (1) with 2% of heartbeat windows
failing, a 400-device pool halted the good release in the last ring, judged on devices that failed any window since the ring
opened, a share that grows with every window ("release failing more than reference 2.00% (no control); release 6.62%
(18/272)"); (2) with healthy heartbeats the conditional test against a control without failures never decided. A quiet control
is now a yardstick, and cohorts count windows ([rollouts.md](rollouts.md#sequential-statistics)).

The bricking release's canary halts rather than rolls back (its policy says so): a bricked device cannot act on an order.
${n.good.state === 'waiting-approval' ? `
**The good release waits for a person here, and that is the policy working, not a false verdict.** Its last ring is the
last 75% of the pool of ${n.devices} (less the silent share): a few hundred install outcomes. Against a 2% baseline, the one-sample
sequential test for +3 points (α 1%, β 5%) passes only when the failures stay near or under the baseline's share, so with 2%
install noise a ring this small is about as likely to be undecided at its 180 s deadline as to pass; the fleet ring says
\`atDeadline: inconclusive\`, so it holds for a person instead of passing blind. On fleet-sized rings the same test decides:
the 10,000-device figures in [rollout-decision-rule.md](rollout-decision-rule.md#figures) leave a good release undecided in
0.0% of 1,000 seeded runs. Because the good release did not complete, the failing release's rollback target is the
pool's previous completed release (${n.failing.reason?.match(/return to (\S+)/)?.[1] ?? 'the one before'}).
` : ''}`;
}
