#!/usr/bin/env node
// The sequential decision rule (rollout/sequential-test.ts) over seeded simulated rollouts of a
// 10,000-device fleet with 2% background failures in release and control alike: false halts of a
// good release, halts of a +3-point (5%) and a +18-point (20%) release, where they halt and how
// many devices got the release; then the shipped example policy (docs/examples/rollout-policy.yml)
// as `ota rollout plan` models it (control from heartbeats, bake time, deadlines, install deadlines)
// with silent devices and a bricking release. Pure and dependency-free; imports the compiled dist/ (npm run build).
//
//   node bench/rollout-decision.mjs                 # 1,000 runs per scenario, markdown tables
//   node bench/rollout-decision.mjs --runs 5000 --seed 7 --json
//   node bench/rollout-decision.mjs --write-docs  # also replaces the figures in docs/rollout-decision-rule.md
// @ts-check
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { planPolicy, simulateMany } from '../dist/rollout/simulation-plan.js';
import { readPolicyFile } from '../dist/rollout/policy-file.js';
import { simPolicyFor } from '../dist/rollout/policy-plan.js';

const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? Number(argv[i + 1]) : fallback;
};
const runs = opt('--runs', 1000);
const seed = opt('--seed', 1);
const noise = opt('--noise', 0.02);
const json = argv.includes('--json');
const writeDocs = argv.includes('--write-docs');
const DOC = new URL('../docs/rollout-decision-rule.md', import.meta.url);

const base = { fleetSize: 10_000, alpha: 0.01, beta: 0.05, kinds: 1, baselineRate: 0.02, reportsPerPoll: 20 };

/** @type {Record<string, import('../dist/rollout/rollout-simulation.js').SimPolicy>} */
const policies = {
  // 1% / 10% / 25% / 100%: the canary watches for gross failures (+18 points, β 1%), the middle
  // rings for +3 points; undecided middle rings pass at their deadline (α unchanged, costs power).
  recommended: {
    ...base,
    rings: [
      { name: 'canary', target: 100, mode: 'sequential', minEffect: 0.18, beta: 0.01, onUndecided: 'pass' },
      { name: 'early', target: 1000, mode: 'sequential', minEffect: 0.03, onUndecided: 'pass' },
      { name: 'wide', target: 2500, mode: 'sequential', minEffect: 0.03, onUndecided: 'pass' },
      { name: 'fleet', target: 10_000, mode: 'sequential', minEffect: 0.03 },
    ],
  },
  // The shipped example's shape: a 5-device canary (a tripwire: more than one failure halts), then
  // 25% and 100% with the sequential test.
  'example-shape': {
    ...base,
    rings: [
      { name: 'canary', target: 5, mode: 'tripwire', maxFailures: 1 },
      { name: 'early', target: 2500, mode: 'sequential', minEffect: 0.03, onUndecided: 'pass' },
      { name: 'fleet', target: 10_000, mode: 'sequential', minEffect: 0.03 },
    ],
  },
  // The 5-device canary asked to decide sequentially: it can never pass.
  'sequential-5-canary': {
    ...base,
    rings: [
      { name: 'canary', target: 5, mode: 'sequential', minEffect: 0.18, beta: 0.01 },
      { name: 'early', target: 1000, mode: 'sequential', minEffect: 0.03, onUndecided: 'pass' },
      { name: 'wide', target: 2500, mode: 'sequential', minEffect: 0.03, onUndecided: 'pass' },
      { name: 'fleet', target: 10_000, mode: 'sequential', minEffect: 0.03 },
    ],
  },
};

const started = process.hrtime.bigint();
const results = {};
for (const [name, policy] of Object.entries(policies)) {
  const t0 = process.hrtime.bigint();
  const plan = planPolicy(policy, { noise, runs, seed, badRates: [noise + 0.03, noise + 0.18] });
  const naive = simulateMany({ ...policy, rule: 'naive' }, { releaseRate: noise, controlRate: noise }, runs, seed);
  results[name] = { plan, naiveGood: naive, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

// The shipped example as `ota rollout plan` runs it, and without its install deadlines (to show
// what they buy: a release that bricks devices is only caught through their timeouts).
const example = readPolicyFile(fileURLToPath(new URL('../docs/examples/rollout-policy.yml', import.meta.url)));
const before = structuredClone(example);
for (const ring of before.rings) delete ring.installDeadline;
const fleet = { fleetSize: 10_000, reportsPerPoll: 20 };
const examples = {
  'example, with the control': simPolicyFor(example, { ...fleet, control: true }),
  'example, without the control (--no-control)': simPolicyFor(example, { ...fleet, control: false }),
  'example without install deadlines, with the control': simPolicyFor(before, { ...fleet, control: true }),
};
/** The issue's scenarios: 2% background in release and control alike (installs and heartbeats). */
const exampleScenarios = [
  ['good (2.0%)', { releaseRate: noise, controlRate: noise }],
  ['fails 5% (+3 pt)', { releaseRate: 0.05, controlRate: noise }],
  ['fails 20%', { releaseRate: 0.2, controlRate: noise }],
  ['good, 10% silent', { releaseRate: noise, controlRate: noise, silentShare: 0.1 }],
  ['fails 20% + 2% noise, reported', { releaseRate: 0.2 + 0.8 * noise, controlRate: noise }],
  ['bricks 20% + 2% noise, no report', { releaseRate: noise, controlRate: noise, brickShare: 0.2 }],
  ['crash-loops 20% after commit', { releaseRate: noise, controlRate: noise, postCommitRate: 0.2 }],
];
const exampleResults = {};
for (const [name, policy] of Object.entries(examples)) {
  const t0 = process.hrtime.bigint();
  const plan = planPolicy(policy, { noise, runs, seed, badRates: [], scenarios: exampleScenarios.map(([n, scenario]) => ({ name: n, scenario })) });
  exampleResults[name] = { plan, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}
const totalMs = Number(process.hrtime.bigint() - started) / 1e6;

if (json) {
  process.stdout.write(JSON.stringify({ runs, seed, noise, totalMs, results, examples: exampleResults }, null, 2) + '\n');
} else {
  const pct = (x) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '—');
  const num = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '—');
  const lines = [];
  lines.push(`Seeded runs per scenario: ${runs} (seed ${seed}), fleet 10,000, background ${pct(noise)} in release and control, total α 1%, ${Math.round(totalMs)} ms for everything on this machine.`);
  for (const [name, { plan, naiveGood, ms }] of Object.entries(results)) {
    const [subtle, gross] = plan.bad;
    lines.push('', `### ${name} (${Math.round(ms)} ms)`, '');
    lines.push('| ring | devices | control/device | test | α | min effect | detectable effect | false halt (good) | undecided (good) | polls to decision (good) |');
    lines.push('|---|---:|---:|---|---:|---:|---:|---:|---:|---:|');
    for (const r of plan.rings) {
      lines.push(`| ${r.name} | ${r.devices} | ${num(r.controlRatio)} | ${r.mode === 'tripwire' ? 'tripwire (cap)' : r.method} | ${r.alpha ? r.alpha.toFixed(4) : '—'} | ${r.minEffect ? `+${(r.minEffect * 100).toFixed(0)} pt` : '—'} | ${r.detectableEffect == null ? '—' : Number.isFinite(r.detectableEffect) ? `+${(r.detectableEffect * 100).toFixed(2)} pt` : 'none'} | ${pct(r.falseHalt)} | ${pct(r.inconclusive)} | ${num(r.meanPollsToDecision)} |`);
    }
    lines.push('');
    lines.push('| scenario | completed | halted | inconclusive | halted per ring | halted before last ring | exposure when halted (mean / max) |');
    lines.push('|---|---:|---:|---:|---|---:|---:|');
    const row = (label, s) => `| ${label} | ${pct(s.completed)} | ${pct(s.halted)} | ${pct(s.inconclusive)} | ${s.haltedInRing.map(pct).join(' / ')} | ${pct(s.haltedBeforeLastRing)} | ${num(s.meanExposureWhenHalted, 0)} / ${s.maxExposureWhenHalted} |`;
    lines.push(row(`good (${pct(noise)})`, plan.good));
    lines.push(row(`bad ${pct(subtle.releaseRate)} (+${(subtle.excess * 100).toFixed(0)} pt)`, subtle.summary));
    lines.push(row(`bad ${pct(gross.releaseRate)} (+${(gross.excess * 100).toFixed(0)} pt)`, gross.summary));
    lines.push(row('good, naive z re-checked every poll', naiveGood));
    if (plan.problems.length) lines.push('', ...plan.problems.map((p) => `- ${p}`));
  }
  for (const [name, { plan, ms }] of Object.entries(exampleResults)) {
    lines.push('', `### ${name} (${Math.round(ms)} ms)`, '');
    lines.push('| ring | devices | tests | α per test | min effect | detectable effect | false halt (good) | decision (good, polls of 1m) | bake / deadline / install deadline (polls) |');
    lines.push('|---|---:|---|---:|---:|---:|---:|---:|---|');
    plan.rings.forEach((r, i) => {
      const spec = examples[name].rings[i];
      const tests = r.tests.length ? r.tests.map((t) => `${t.on} ${t.method}`).join(' + ') : 'caps only (tripwire)';
      lines.push(`| ${r.name} | ${r.devices} | ${tests} | ${r.alpha ? r.alpha.toFixed(5) : '—'} | ${r.minEffect ? `+${(r.minEffect * 100).toFixed(0)} pt` : '—'} | ${r.detectableEffect == null ? '—' : Number.isFinite(r.detectableEffect) ? `+${(r.detectableEffect * 100).toFixed(2)} pt` : 'none'} | ${pct(r.falseHalt)} | ${num(r.meanPollsToDecision)} | ${spec.bakePolls} / ${spec.deadlinePolls ?? '—'} / ${spec.timeoutPolls ?? '—'} |`);
    });
    lines.push('');
    lines.push('| scenario | completed | halted | inconclusive | halted per ring | halted before last ring | exposure when halted (mean / max) | max exposure, halted in canary | rings ended by their deadline | longest ring / its deadline |');
    lines.push('|---|---:|---:|---:|---|---:|---:|---:|---:|---:|');
    for (const { name: label, summary: s } of plan.scenarios) {
      lines.push(`| ${label} | ${pct(s.completed)} | ${pct(s.halted)} | ${pct(s.inconclusive)} | ${s.haltedInRing.map(pct).join(' / ')} | ${pct(s.haltedBeforeLastRing)} | ${num(s.meanExposureWhenHalted, 0)} / ${s.maxExposureWhenHalted} | ${s.maxExposureHaltedInRing[0]} | ${pct(s.endedByDeadline)} | ${pct(s.longestWaitVsDeadline)} |`);
    }
  }
  process.stdout.write(lines.join('\n') + '\n');
  if (writeDocs) replaceFigures(lines.join('\n'));
}

/** Swaps the text between the doc's bench markers for this run's tables; the prose around stays. */
function replaceFigures(text) {
  const doc = readFileSync(DOC, 'utf8');
  const start = doc.indexOf('<!-- bench:rollout-decision:start');
  const end = doc.indexOf('<!-- bench:rollout-decision:end -->');
  if (start < 0 || end < start) throw new Error('docs/rollout-decision-rule.md has lost its bench markers');
  const open = doc.indexOf('-->', start) + 3;
  writeFileSync(DOC, `${doc.slice(0, open)}\n${text}\n${doc.slice(end)}`);
  process.stderr.write('wrote docs/rollout-decision-rule.md\n');
}
