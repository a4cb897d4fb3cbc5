// Signed heartbeats (POST /v1/heartbeats): once per window (config.heartbeat.intervalSeconds) a
// committed device says how it has been since the last one: boots since then (reboots, watchdog
// resets; a crash loop at crashLoopBoots or more), uptime, the configured health checks run again
// (not the minimum uptime) and the `metric name=value` lines they printed. Devices still on the
// previous release send the same, so a rollout always has a control cohort.
//
// Not queued: a heartbeat describes the window it closes; one the gateway never got is replaced by
// the next, which still counts every boot since the last accepted one. The counter is its own
// sequence (stateDir/heartbeat.json), reserved durably before the send so it is never reused; each
// send signs over a fresh nonce.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { counterSchema, heartbeatSchema, type Frozen, type Heartbeat, type Posture } from '../../schemas/device-api.js';
import { frozenSince, readDeviceTrust } from '../agent/device-trust.js';
import { signEnvelope, type DeviceSigner } from '../../schemas/device-envelope.js';
import type { Device } from '../agent/device.js';
import { GatewayRefusedError, GatewayUnreachableError, type GatewayClient } from '../gateway/gateway-client.js';
import { runHealthChecks, type HealthCheckSummary } from '../health/health-checks.js';
import { readJsonFile, writeJsonFile } from '../state/json-file.js';
import type { MetricsSampler } from './metrics.js';
import { collectPosture } from './posture.js';

const heartbeatStateSchema = z
  .object({
    /** The next counter to use. */
    next: counterSchema,
    /** When the last heartbeat was accepted, and the boot count it carried. */
    lastSentAt: z.string().nullable(),
    lastBootCount: z.int().min(0).nullable(),
  })
  .strict();
type HeartbeatState = z.infer<typeof heartbeatStateSchema>;

export type HeartbeatOutcome =
  | { kind: 'sent'; heartbeat: Heartbeat }
  | { kind: 'not-due'; dueInSeconds: number }
  | { kind: 'skipped'; reason: string }
  | { kind: 'failed'; reason: string };

export interface HeartbeatOptions {
  client: GatewayClient;
  key: DeviceSigner;
  metrics: MetricsSampler;
  /** Replaces the configured health checks (simulation, tests). */
  health?: () => Promise<HealthCheckSummary>;
  now?: () => Date;
  /** Send even when the window has not elapsed. */
  force?: boolean;
}

const MAX_FAILED_NAMES = 32;
const MAX_METRICS = 64;

function statePath(device: Device): string {
  return join(device.config.stateDir, 'heartbeat.json');
}

async function readState(device: Device): Promise<HeartbeatState> {
  return (await readJsonFile(statePath(device), heartbeatStateSchema).catch(() => undefined)) ?? { next: 1, lastSentAt: null, lastBootCount: null };
}

/** Seconds until the next heartbeat is due (0: now). */
export async function heartbeatDueInSeconds(device: Device, now = new Date()): Promise<number> {
  const { heartbeat } = device.config;
  if (!heartbeat.enabled) return Infinity;
  const state = await readState(device);
  if (!state.lastSentAt) return 0;
  const elapsed = (now.getTime() - Date.parse(state.lastSentAt)) / 1000;
  return Math.max(0, heartbeat.intervalSeconds - elapsed);
}

/** The heartbeat body without counter and nonce (pure: every figure comes in). */
export function buildHeartbeatBody(input: {
  deviceId: string;
  releaseVersion: string | null;
  imageSha256: string;
  slot: 'A' | 'B';
  bootCount: number;
  lastBootCount: number | null;
  crashLoopBoots: number;
  uptimeSeconds: number;
  health: HealthCheckSummary | null;
  windowSeconds: number;
  now: Date;
  frozen?: Frozen;
  posture?: Posture;
}): Omit<Heartbeat, 'counter' | 'nonce'> {
  const bootsSinceLast = input.lastBootCount === null ? 0 : Math.max(0, input.bootCount - input.lastBootCount);
  const checks = input.health?.checks ?? [];
  const failed = checks.filter((c) => !c.ok);
  const metrics: Record<string, number> = {};
  for (const check of checks) {
    for (const [name, value] of Object.entries(check.metrics ?? {})) {
      if (name in metrics || Object.keys(metrics).length < MAX_METRICS) metrics[name] = value;
    }
  }
  return {
    type: 'heartbeat',
    deviceId: input.deviceId,
    releaseVersion: input.releaseVersion,
    imageSha256: input.imageSha256,
    slot: input.slot,
    bootCount: input.bootCount,
    bootsSinceLast: Math.min(bootsSinceLast, 1_000_000),
    crashLoop: bootsSinceLast >= input.crashLoopBoots,
    uptimeSeconds: Math.max(0, Math.floor(input.uptimeSeconds)),
    healthChecks: { run: Math.min(checks.length, 256), failed: Math.min(failed.length, 256) },
    failedChecks: failed.slice(0, MAX_FAILED_NAMES).map((c) => `${c.kind} ${c.name}`.slice(0, 128)),
    metrics,
    ...(input.frozen && { frozen: input.frozen }),
    ...(input.posture && { posture: input.posture }),
    windowSeconds: input.windowSeconds,
    sentAt: input.now.toISOString(),
  };
}

/**
 * Sends the window's heartbeat when it is due and the device runs a committed slot holding an
 * image this agent verified (never during a trial boot: the boot check owns that). Never throws
 * for the gateway's sake: offline or refused is an outcome, tried again at the next round.
 */
export async function sendHeartbeatIfDue(device: Device, options: HeartbeatOptions): Promise<HeartbeatOutcome> {
  const { config } = device;
  if (!config.heartbeat.enabled) return { kind: 'skipped', reason: 'heartbeats disabled' };
  const now = (options.now ?? (() => new Date()))();
  const due = await heartbeatDueInSeconds(device, now);
  if (!options.force && due > 0) return { kind: 'not-due', dueInSeconds: due };

  const booted = await device.bootedSlot();
  const boot = await device.boot.read();
  if (!boot.good[booted]) return { kind: 'skipped', reason: `slot ${booted} is on trial (the boot check decides)` };
  const agent = await device.agentState.read();
  const image = agent.slots[booted];
  if (!image) return { kind: 'skipped', reason: `slot ${booted} holds no image this agent verified` };

  const sample = await options.metrics();
  const health = config.heartbeat.runHealthChecks ? await (options.health ?? (() => runHealthChecks(config.health, { skipUptime: true })))() : null;
  const state = await readState(device);
  const body = buildHeartbeatBody({
    deviceId: config.deviceId,
    releaseVersion: image.version,
    imageSha256: image.sha256,
    slot: booted,
    bootCount: sample.bootCount,
    lastBootCount: state.lastBootCount,
    crashLoopBoots: config.heartbeat.crashLoopBoots,
    uptimeSeconds: sample.metrics.uptimeSeconds,
    health,
    windowSeconds: config.heartbeat.intervalSeconds,
    now,
    frozen: frozenSince(await readDeviceTrust(config).catch(() => undefined), now),
    // Posture that cannot be gathered leaves the heartbeat without it: health still gets through.
    posture: await collectPosture(device, { booted, image, bootCount: sample.bootCount }).catch(() => undefined),
  });
  // Reserve the counter first: a crash after this only leaves a gap.
  await mkdir(config.stateDir, { recursive: true, mode: 0o700 });
  let counter = state.next;
  await writeJsonFile(statePath(device), { ...state, next: counter + 1 });
  try {
    for (let attempt = 0; ; attempt++) {
      const heartbeat = heartbeatSchema.parse({ ...body, counter, nonce: await options.client.nonce(config.deviceId) });
      try {
        await options.client.postHeartbeat(await signEnvelope(heartbeat, options.key), counter);
        await writeJsonFile(statePath(device), { next: counter + 1, lastSentAt: now.toISOString(), lastBootCount: sample.bootCount });
        return { kind: 'sent', heartbeat };
      } catch (error) {
        if (error instanceof GatewayRefusedError && error.code.startsWith('nonce-') && attempt < 2) continue;
        // The gateway has seen a higher counter (heartbeat.json was lost): move past it, once.
        const last = error instanceof GatewayRefusedError && error.code === 'stale-counter' ? /last stored heartbeat counter (\d+)/.exec(error.detail) : null;
        if (last && attempt < 2) {
          counter = Number(last[1]) + 1;
          await writeJsonFile(statePath(device), { ...state, next: counter + 1 });
          continue;
        }
        throw error;
      }
    }
  } catch (error) {
    if (error instanceof GatewayUnreachableError || error instanceof GatewayRefusedError) return { kind: 'failed', reason: error.message };
    throw error;
  }
}
