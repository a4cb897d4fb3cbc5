// `ota dev` as a library: bring the stack file's services up natively in dependency
// order, report their status, and bring them down again by recorded pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { planLaunch, type LaunchPlan } from './launch.js';
import { appendLog, logTail } from './logs.js';
import { startOrder } from './order.js';
import { ensureDatabase, findPostgresBinaries } from './postgres.js';
import { allAnswer, describeProbe, splitHostPort, tcpAnswers } from './probes.js';
import { isSameProcess, listeningPid, processGroupOf, processStartTime, stopProcessGroup } from './processes.js';
import { loadStackFile, type ServiceDefinition, type StackDefinition } from './stackFile.js';
import { devDir, logPath, readState, writeState, type ServiceRecord } from './state.js';

export interface StackOptions {
  file: string;
  stateDir: string;
  /** Variables for interpolation and the children, over process.env (e.g. OTA_TEMPORAL_PORT). */
  env?: Record<string, string>;
  /** Progress lines for people (stderr in the CLI). */
  progress?: (message: string) => void;
}

export interface OpenStack {
  stack: StackDefinition;
  env: NodeJS.ProcessEnv;
}

/** Loads the stack file with the state directory exposed as ${OTA_STATE_DIR}. */
export function openStack(opts: StackOptions): OpenStack {
  const stateDir = resolve(opts.stateDir);
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env, OTA_STATE_DIR: stateDir };
  return { stack: loadStackFile(opts.file, env), env };
}

const FLEET_URL_VAR = 'OTA_FLEET_DATABASE_URL';

// ---------------------------------------------------------------- up

export interface StartOutcome {
  name: string;
  result: 'started' | 'already-running' | 'embedded' | 'failed' | 'skipped';
  pid?: number;
  urls: Record<string, string>;
  log: string;
  /** Why it failed or was skipped, or what `embedded` means. */
  detail?: string;
}

export interface UpResult {
  outcomes: StartOutcome[];
  /** Services this call spawned (and should stop on Ctrl-C in the foreground). */
  spawned: string[];
  children: Map<string, ChildProcess>;
  ok: boolean;
  interrupted: boolean;
  /** The fleet database URL handed to the services (postgres:// or the embedded pglite:). */
  fleetDatabaseUrl?: string;
}

export interface UpOptions extends StackOptions {
  services?: string[];
  detach?: boolean;
  /** Aborting (Ctrl-C) during start-up stops what was spawned so far. */
  signal?: AbortSignal;
}

class StartFailure extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function upStack(opts: UpOptions): Promise<UpResult> {
  const { stack, env } = openStack(opts);
  const stateDir = resolve(opts.stateDir);
  const order = startOrder(stack, opts.services);
  const say = opts.progress ?? (() => {});
  const result: UpResult = { outcomes: [], spawned: [], children: new Map(), ok: true, interrupted: false };
  const unavailable = new Set<string>();

  for (const name of order) {
    if (opts.signal?.aborted) break;
    const service = stack.services.get(name)!;
    const log = logPath(stateDir, name);
    const blockedBy = service.dependsOn.filter((dep) => unavailable.has(dep));
    if (blockedBy.length) {
      unavailable.add(name);
      result.outcomes.push({ name, result: 'skipped', urls: service.native.urls, log, detail: `not started: needs ${blockedBy.join(', ')}` });
      continue;
    }
    say(`${name}: starting`);
    const outcome = await startService(service, { stack, env, stateDir, log, detach: !!opts.detach, signal: opts.signal, say }, result);
    result.outcomes.push(outcome);
    if (outcome.result === 'failed') {
      unavailable.add(name);
      result.ok = false;
    }
  }
  if (opts.signal?.aborted) {
    result.interrupted = true;
    await downStack({ ...opts, services: result.spawned });
  }
  result.fleetDatabaseUrl = env[FLEET_URL_VAR];
  return result;
}

interface StartContext {
  stack: StackDefinition;
  env: NodeJS.ProcessEnv;
  stateDir: string;
  log: string;
  detach: boolean;
  signal?: AbortSignal;
  say: (message: string) => void;
}

function updateRecord(stateDir: string, file: string, name: string, record: ServiceRecord | undefined): void {
  const state = readState(stateDir, file);
  if (record) state.services[name] = record;
  else delete state.services[name];
  writeState(stateDir, state);
}

async function startService(service: ServiceDefinition, ctx: StartContext, up: UpResult): Promise<StartOutcome> {
  const { name, native } = service;
  const base = { name, urls: native.urls, log: ctx.log };
  const record = readState(ctx.stateDir, ctx.stack.file).services[name];
  const ours = record?.pid !== undefined && isSameProcess(record.pid, record.startTime) ? record : undefined;
  if (ours) {
    if (ours.url) ctx.env[FLEET_URL_VAR] ??= ours.url;
    return { ...base, result: 'already-running', pid: ours.pid, detail: `already running (pid ${ours.pid}), not started twice` };
  }
  if (record) updateRecord(ctx.stateDir, ctx.stack.file, name, undefined); // stale: its process is gone

  try {
    await checkPortsFree(service, ctx);
    mkdirSync(devDir(ctx.stateDir), { recursive: true });
    for (const dir of native.mkdir) mkdirSync(resolve(ctx.stack.dir, dir), { recursive: true });
    let plan: LaunchPlan;
    try {
      plan = planLaunch(service, { cwd: ctx.stack.dir, env: ctx.env, log: (text) => appendLog(ctx.log, text) });
    } catch (err) {
      throw new StartFailure((err as Error).message);
    }
    if (plan.mode === 'embedded') {
      updateRecord(ctx.stateDir, ctx.stack.file, name, { mode: 'embedded', url: plan.url, startedAt: new Date().toISOString(), log: ctx.log });
      ctx.env[FLEET_URL_VAR] ??= plan.url;
      return { ...base, result: 'embedded', urls: { 'Fleet database': `${plan.url} (embedded PGlite)` }, detail: plan.reason };
    }
    const pid = await spawnAndWait(service, plan, ctx, up);
    if (plan.url) ctx.env[FLEET_URL_VAR] ??= plan.url;
    return { ...base, result: 'started', pid };
  } catch (err) {
    if (!(err instanceof StartFailure)) throw err;
    return { ...base, result: 'failed', detail: err.message };
  }
}

/** A port already answering is either ours (reported earlier) or someone else's: refuse. */
async function checkPortsFree(service: ServiceDefinition, ctx: StartContext): Promise<void> {
  for (const address of service.native.listen) {
    if (!(await tcpAnswers(address, 500))) continue;
    const owner = listeningPid(splitHostPort(address).port);
    const move = `move ${service.name} to another port (see the OTA_*_PORT variables in the stack file)`;
    // One of our own services may hold it: a server that opens extra listeners on ports of its choosing.
    const sibling = Object.entries(readState(ctx.stateDir, ctx.stack.file).services).find(([, record]) => owner !== undefined && record.pid === owner)?.[0];
    if (sibling) throw new StartFailure(`${address} is already in use by ${sibling} (pid ${owner}) of this stack, which opened it for itself; ${move}`);
    const who = owner ? `pid ${owner} (${commandLine(owner)})` : 'another process';
    throw new StartFailure(`${address} is already in use by ${who}, which ota dev did not start; stop it or ${move}`);
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 120);
  } catch {
    return 'unknown command';
  }
}

async function spawnAndWait(service: ServiceDefinition, plan: Extract<LaunchPlan, { mode: 'process' }>, ctx: StartContext, up: UpResult): Promise<number> {
  const { name, native } = service;
  appendLog(ctx.log, `--- ${new Date().toISOString()} ota dev up ${name}: ${plan.argv.join(' ')}`);
  const fd = openSync(ctx.log, 'a');
  let child: ChildProcess;
  try {
    // Own process group (detached), so stopping reaches its children and a terminal's
    // Ctrl-C reaches only us: we decide what to stop.
    child = spawn(plan.argv[0]!, plan.argv.slice(1), { detached: true, stdio: ['ignore', fd, fd], cwd: plan.cwd, env: plan.env, uid: plan.uid, gid: plan.gid });
  } finally {
    closeSync(fd);
  }
  let spawnError: Error | undefined;
  let exited: string | undefined;
  child.once('error', (err) => (spawnError = err));
  child.once('exit', (code, signal) => (exited = signal ? `was killed by ${signal}` : `exited with code ${code}`));
  const started = Date.now();
  const pid = child.pid;
  const fail = async (why: string): Promise<never> => {
    if (pid !== undefined) await stopProcessGroup(pid, service.stopSignal, service.stopGraceMs);
    updateRecord(ctx.stateDir, ctx.stack.file, name, undefined);
    if (up.spawned.includes(name)) up.spawned.splice(up.spawned.indexOf(name), 1);
    up.children.delete(name);
    throw new StartFailure(`${why}\n  command: ${plan.argv.join(' ')}\n  last lines of ${ctx.log}:\n${indent(logTail(ctx.log))}`);
  };
  if (pid === undefined) {
    await sleep(0); // the 'error' event is emitted on the next tick
    return fail(`could not start: ${spawnError?.message ?? 'spawn failed'}`);
  }
  up.spawned.push(name);
  up.children.set(name, child);
  updateRecord(ctx.stateDir, ctx.stack.file, name, { pid, startTime: processStartTime(pid), startedAt: new Date().toISOString(), log: ctx.log, mode: 'process', url: plan.url });

  const deadline = started + native.timeout * 1000;
  for (;;) {
    if (ctx.signal?.aborted) {
      await stopProcessGroup(pid, service.stopSignal, service.stopGraceMs);
      updateRecord(ctx.stateDir, ctx.stack.file, name, undefined);
      throw new StartFailure('interrupted before it answered; stopped');
    }
    if (spawnError) return fail(`could not start: ${spawnError.message}`);
    if (exited) return fail(`${exited} before answering (${native.ready.map(describeProbe).join(', ')})`);
    if (await allAnswer(native.ready, () => !exited, () => Date.now() - started)) break;
    if (Date.now() > deadline) return fail(`did not answer ${native.ready.map(describeProbe).join(', ')} within ${native.timeout}s`);
    await sleep(250);
  }
  if (native.driver === 'postgres') {
    try {
      await ensureDatabase(native.postgres!, deadline);
    } catch (err) {
      return fail(`database setup failed: ${(err as Error).message}`);
    }
  }
  if (ctx.detach) child.unref();
  ctx.say(`${name}: ready (pid ${pid}, ${((Date.now() - started) / 1000).toFixed(1)}s)`);
  return pid;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

// ---------------------------------------------------------------- status

export interface ServiceStatus {
  name: string;
  state: 'running' | 'stopped' | 'not-started' | 'embedded';
  pid?: number;
  addresses: string[];
  urls: Record<string, string>;
  answering: boolean;
  log: string;
  note?: string;
}

export async function statusStack(opts: StackOptions): Promise<ServiceStatus[]> {
  const { stack } = openStack(opts);
  const stateDir = resolve(opts.stateDir);
  const state = readState(stateDir, stack.file);
  const statuses: ServiceStatus[] = [];
  for (const [name, service] of stack.services) {
    const record = state.services[name];
    // A profiled service (the replicas) is only news once it was started.
    if (!record && service.profiles.length) continue;
    const native = service.native;
    const base = { name, addresses: native.listen, urls: native.urls, log: record?.log ?? logPath(stateDir, name) };
    if (native.driver === 'postgres' && (record?.mode === 'embedded' || !findPostgresBinaries())) {
      const url = record?.url ?? native.postgres!.embeddedUrl;
      statuses.push({ ...base, state: 'embedded', urls: { 'Fleet database': url }, answering: true, note: 'no PostgreSQL binaries installed: processes use embedded PGlite, no server runs' });
      continue;
    }
    const running = record?.pid !== undefined && isSameProcess(record.pid, record.startTime);
    const startedAt = record ? Date.parse(record.startedAt) : Date.now();
    const answering = await allAnswer(native.ready, () => running, () => Date.now() - startedAt);
    if (running) statuses.push({ ...base, state: 'running', pid: record!.pid, answering });
    else if (record) statuses.push({ ...base, state: 'stopped', pid: record.pid, answering, note: `pid ${record.pid} is gone; see ${record.log}` });
    else statuses.push({ ...base, state: 'not-started', answering, note: answering ? 'something else answers on its address' : undefined });
  }
  return statuses;
}

// ---------------------------------------------------------------- down

export interface StopOutcome {
  name: string;
  pid?: number;
  result: 'stopped' | 'killed' | 'gone' | 'embedded';
}

/** Stops recorded services (all, or `services`), dependants first, and forgets them. */
export async function downStack(opts: StackOptions & { services?: string[] }): Promise<StopOutcome[]> {
  const stateDir = resolve(opts.stateDir);
  let stack: StackDefinition | undefined;
  try {
    stack = openStack(opts).stack;
  } catch {
    stack = undefined; // a broken file must not keep us from stopping recorded pids
  }
  const state = readState(stateDir, resolve(opts.file));
  const recorded = Object.keys(state.services).filter((name) => !opts.services || opts.services.includes(name));
  const fileOrder = stack ? startOrder(stack).filter((name) => recorded.includes(name)) : [];
  const order = [...fileOrder, ...recorded.filter((name) => !fileOrder.includes(name))].reverse();
  const outcomes: StopOutcome[] = [];
  for (const name of order) {
    const record = state.services[name]!;
    const service = stack?.services.get(name);
    if (record.mode === 'embedded' || record.pid === undefined) {
      outcomes.push({ name, result: 'embedded' });
    } else if (!isSameProcess(record.pid, record.startTime) || processGroupOf(record.pid) !== record.pid) {
      // Never signal a recycled pid: only the process group we started.
      outcomes.push({ name, pid: record.pid, result: 'gone' });
    } else {
      opts.progress?.(`${name}: stopping pid ${record.pid}`);
      outcomes.push({ name, pid: record.pid, result: await stopProcessGroup(record.pid, service?.stopSignal ?? 'SIGTERM', service?.stopGraceMs ?? 10_000) });
    }
    updateRecord(stateDir, state.file, name, undefined);
  }
  return outcomes;
}
