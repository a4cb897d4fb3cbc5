// Writes docs/rollout-benchmark.md from bench/rollout.mjs's results. The page has three parts: the
// default run (10,000 devices, what `npm run bench` runs), a marked block for a larger fleet (the
// 100,000-device run, which takes over an hour and runs on its own), and the noisy-fleet section.
// Each run replaces only its own part, so `npm run bench` keeps the large-fleet figures.
// @ts-check
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { noiseSection } from './rollout-noise.mjs';

/** Runs with more devices than this write the large-fleet block instead of the page's head. */
export const DEFAULT_DEVICES = 10000;
const LARGE_START = '<!-- rollout-large:start -->';
const LARGE_END = '<!-- rollout-large:end -->';
const NOISE_HEADING = '\n## A noisy fleet';

const count = (n) => n.toLocaleString('en-US');

function command(r, noiseDevices) {
  const store = r.fleetStore.startsWith('PostgreSQL') ? 'postgres' : 'pglite';
  return `node bench/rollout.mjs --devices ${r.devices} --device-processes ${r.deviceProcesses} --fleet-store ${store} --noise-devices ${r.noiseDevices ?? (r.noise ? r.noise.devices : noiseDevices)} --write-docs`;
}

function setup(r) {
  return `Everything runs on this one machine: Temporal dev server; one process holding the worker and the gateway; the fleet
store on ${r.fleetStore}; and ${count(r.devices)} simulated devices (sim/protocol-device.ts: own Ed25519 key, signed
check-ins and reports with single-use nonces, each fetching its delta through the gateway) in ${r.deviceProcesses} device
process(es) of their own (sim/fleet-shards.ts), all over ${r.transport ?? 'plain HTTP'}: each device is preauthorized,
enrolls, gets a client certificate from the fleet CA for its own key, and the gateway checks it with its revocation on
every request. A device keeps its connection for one conversation; the gateway closes a connection idle for 5 s,
and the device resumes its TLS session on the next one (sessions live for the poll interval + 600 s; the poll
interval here is 3,600 s, so that sessions and each answer's \`nextNonce\` outlive a check-in round).
Policy: four rings (canary 50 devices, 2%, 20%, 100%, cumulative); bake 1 s; ring health read every ${r.crashRollout.pollInterval}.`;
}

/** The figures table of one run. */
export function figuresTable(r) {
  const rows = [
    ['enrollment (preauthorize, enroll, certificate per device)', `${r.enroll.seconds.toFixed(1)} s (${r.enroll.perSecond} devices/s); gateway + worker ${r.enroll.gatewayWorkerCores} cores, database ${r.enroll.databaseCores} cores`],
    ['good rollout to all devices', `${r.goodRollout.seconds.toFixed(1)} s, ${r.goodRollout.checkinRounds} check-in rounds, ${count(r.goodRollout.onRelease)}/${count(r.devices)} on the release, state ${r.goodRollout.state}`],
    ['time per check-in round (the ring when it ended, installs in it)', r.goodRollout.rounds.map((x) => `${x.seconds.toFixed(1)} s (${x.ring ?? 'completed'}, ${count(x.installed)})`).join('; ')],
    ...(r.goodRollout.rounds.every((x) => x.freshNonces !== undefined)
      ? [['check-ins per round that fetched a nonce first (none held, or the held one expired)', r.goodRollout.rounds.map((x) => count(x.freshNonces)).join('; ')]]
      : []),
    ['CPU during the good rollout', `gateway + worker process ${r.goodRollout.gatewayWorkerCpuSeconds} s (${r.goodRollout.gatewayWorkerCores} cores), database ${r.goodRollout.databaseCpuSeconds} s (${r.goodRollout.databaseCores} cores)`],
    ['workflow history (good rollout)', `${r.goodRollout.historyEvents} events`],
    ['one ring health read (what the workflow reads per poll), largest ring', `${r.goodRollout.ringHealthRead.ms} ms for ${count(r.goodRollout.ringHealthRead.assigned)} devices`],
    ['gateway load (good rollout)', `${count(r.goodRollout.gatewayRequests)} requests, ${r.goodRollout.gatewayRequestsPerSecond}/s sustained`],
    ['crash-looping release', `${r.crashRollout.state}, exposure ${count(r.crashRollout.exposure)} devices, ${count(r.crashRollout.backOnPrevious)}/${count(r.devices)} back on the previous release`],
    ['halt delay (breaching report -> hold at check-in)', `${r.crashRollout.haltDelayMs} ms (bounded by the poll interval ${r.crashRollout.pollInterval} plus one activity)`],
    ['workflow history (crash rollout)', `${r.crashRollout.historyEvents} events`],
    ['peak RSS, gateway + worker process', `${r.peakRssMiB} MiB`],
    ['peak RSS per device process', `${r.deviceProcessPeakRssMiB.map((m) => `${m} MiB`).join(', ')} (${count(Math.round(r.devices / r.deviceProcesses))} devices each)`],
    ['device conversations that failed and were retried next round', `${r.deviceConversationsFailed}`],
  ];
  return ['| what | figure |', '|---|---|', ...rows.map(([what, figure]) => `| ${what} | ${figure} |`)].join('\n');
}

function machine(r) {
  return `Machine: ${r.machine.cpus} vCPU ${r.machine.cpu}, ${r.machine.memoryGiB} GiB RAM, Node ${r.machine.node}${r.date ? `; run of ${r.date.slice(0, 10)}` : ''}.`;
}

function largeBlock(r, noiseDevices) {
  return `${LARGE_START}
## ${count(r.devices)} devices

Command: \`${command(r, noiseDevices)}\` (not part of \`npm run bench\`: it needs the machine to itself for over an hour).
${machine(r)}
${setup(r)}

${figuresTable(r)}

Where the gateway's CPU goes at this scale (TLS handshakes, OpenSSL 3.0's key decoders):
[fleet-ca.md](fleet-ca.md#where-a-handshakes-cpu-goes-openssl-30s-key-decoders).
${LARGE_END}`;
}

function head(r, noiseDevices) {
  return `# Rollout benchmark

The statistics of the ring decisions (false halts of a good release, halts of a bad one, over 1,000 seeded
rollouts per scenario) are measured by \`bench/rollout-decision.mjs\`, also part of \`npm run bench\`, with the
figures in [rollout-decision-rule.md](rollout-decision-rule.md#figures). This page measures the running system.

Command: \`${command(r, noiseDevices)}\` (also part of \`npm run bench\`).
${machine(r)}
${setup(r)}

${figuresTable(r)}

History stays small because devices never signal the workflow: it reads ring aggregates from the
fleet store once per poll, and records only decisions that change. The figure is the last run's: the workflow
continues as new at a wait when Temporal suggests it (workflows/rollout.ts), so no run's history grows without bound.`;
}

/** Splits the page into its three parts (each may be empty). */
function parts(text) {
  const noiseAt = text.indexOf(NOISE_HEADING);
  const beforeNoise = noiseAt < 0 ? text : text.slice(0, noiseAt);
  const noise = noiseAt < 0 ? '' : text.slice(noiseAt + 1);
  const a = beforeNoise.indexOf(LARGE_START);
  const b = beforeNoise.indexOf(LARGE_END);
  if (a < 0 || b < a) return { head: beforeNoise.trimEnd(), large: '', noise };
  return { head: `${beforeNoise.slice(0, a)}${beforeNoise.slice(b + LARGE_END.length)}`.trimEnd(), large: beforeNoise.slice(a, b + LARGE_END.length), noise };
}

/**
 * Rewrites this run's parts of the page; returns which were written.
 * @param {any} r results of bench/rollout.mjs
 * @param {{ root: string, noiseDevices: number }} options
 */
export function writeRolloutDocs(r, { root, noiseDevices }) {
  const page = join(root, 'docs', 'rollout-benchmark.md');
  const old = parts(existsSync(page) ? readFileSync(page, 'utf8') : '');
  const next = { ...old };
  const written = [];
  if (r.goodRollout && r.devices > DEFAULT_DEVICES) {
    next.large = largeBlock(r, noiseDevices);
    written.push(`the ${count(r.devices)}-device section`);
  } else if (r.goodRollout) {
    next.head = head(r, noiseDevices);
    written.push('the main figures');
  }
  if (r.noise) {
    next.noise = noiseSection(r.noise, '1s', `node bench/rollout.mjs --devices ${r.goodRollout ? r.devices : 0} --noise-devices ${r.noise.devices} --write-docs`).trimStart();
    written.push('the noisy-fleet section');
  } else if (!r.goodRollout) {
    next.noise = '';
  }
  writeFileSync(page, `${[next.head, next.large, next.noise.trimEnd()].filter(Boolean).join('\n\n')}\n`);
  return written;
}
