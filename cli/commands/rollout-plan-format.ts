// Human rendering of `ota rollout plan`: one row per ring, then the whole rollout's odds.
import type { HaltFigures, RolloutPlanReport } from '../../rollout/policy-plan.js';

export function renderRolloutPlan(r: RolloutPlanReport, source: string): string {
  const s = r.statistics;
  const sequential = r.rings.filter((x) => x.mode === 'sequential').length;
  const lines = [
    `plan for ${source}: ${r.fleetSize} devices, background noise ${pct(r.noise)}, ${r.runs} seeded runs per scenario (seed ${r.seed}), ${r.reportsPerPoll} reports per ${duration(r.pollIntervalMs)} poll`,
    `sequential: α ${pct(s.alpha)} split over ${sequential} rings${r.control ? ' and the tests of each' : ''}, β ${pct(s.beta)}, effect +${pt(s.minEffect)} over ${pct(s.baselineRate)}; ${r.control ? 'with the control cohort (devices heartbeat): install outcomes by the one-sample SPRT, post-commit health vs control by the conditional binomial' : 'without a control (--no-control): install outcomes by the one-sample SPRT'}`,
    '',
  ];
  const header = ['ring', 'devices', 'target', 'tests', 'α', 'β', 'effect', 'detects', 'false halt', 'inconclusive', 'decision (good release)'];
  const rows = r.rings.map((x) => [
    x.name,
    String(x.devices),
    String(x.target),
    x.tests.length === 0 ? 'caps only' : x.tests.map((t) => `${t.on} ${t.method}`).join(' + '),
    x.alpha === null ? '-' : pct(x.alpha, 2),
    x.beta === null ? '-' : pct(x.beta),
    x.minEffect === null ? '-' : `+${pt(x.minEffect)}`,
    x.detectableEffect === null ? 'caps only' : Number.isFinite(x.detectableEffect) ? `+${pt(x.detectableEffect, 2)}` : 'nothing',
    pct(x.falseHalt),
    pct(x.inconclusive),
    `${Number.isFinite(x.pollsToDecision) ? `${x.pollsToDecision.toFixed(1)} polls = ${duration(x.msToDecision)}` : 'never'} (bake ${duration(x.bakeTimeMs)}${x.decisionDeadlineMs === null ? '' : `, deadline ${duration(x.decisionDeadlineMs)}`})`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  lines.push(line(header), ...rows.map(line), '');
  lines.push('whole rollout:');
  lines.push(`  good release (${pct(r.noise)}): completes ${pct(r.good.completed)}, halted ${pct(r.good.halted)}, held inconclusive ${pct(r.good.inconclusive)}`);
  const first = r.rings[0]!.name;
  const halts = (h: HaltFigures) =>
    `halted ${pct(h.halted)} (in ${first} ${pct(h.haltedInFirstRing)}, before the last ring ${pct(h.haltedBeforeLastRing)}), held inconclusive ${pct(h.inconclusive)}; exposure when halted mean ${Math.round(h.meanExposureWhenHalted)}, max ${h.maxExposureWhenHalted} (halted in ${first}: max ${h.maxExposureHaltedInFirstRing})`;
  for (const b of r.bad) lines.push(`  bad release +${pt(b.excess, 0)} (${pct(b.releaseRate)}): ${halts(b)}`);
  for (const x of r.scenarios) {
    const deadline = x.longestWaitVsDeadline === null ? '' : `; rings ended by their deadline ${pct(x.endedByDeadline)}, longest ring ${pct(x.longestWaitVsDeadline)} of its deadline`;
    lines.push(`  ${x.name}: completes ${pct(x.completed)}, ${halts(x)}${deadline}`);
  }
  lines.push(r.problems.length ? `problems:\n${r.problems.map((p) => `  - ${p}`).join('\n')}` : 'problems: none');
  return lines.join('\n');
}

function pct(x: number, digits = 1): string {
  return `${(x * 100).toFixed(digits)}%`;
}

function pt(x: number, digits = 1): string {
  return `${(x * 100).toFixed(digits)} pt`;
}

function duration(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)}s`;
  if (ms < 3_600_000) return `${+(ms / 60_000).toFixed(1)}m`;
  if (ms < 86_400_000) return `${+(ms / 3_600_000).toFixed(1)}h`;
  return `${+(ms / 86_400_000).toFixed(1)}d`;
}
