// Shared pieces of the rollout tests: a simulated fleet enrolled on a published release, the
// two-ring policy the durability tests use, and ticking devices until a rollout reaches a state.
import { rolloutStatusQuery } from '../../workflows/rollout.js';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities/index.js';
import { FleetStore } from '../../fleet/fleet-store.js';
import { startGateway, type RunningGateway } from '../../gateway/server.js';
import type { Config } from '../../schemas/config.js';
import { createWorker } from '../../temporal/worker.js';
import { parsePolicy, type RolloutPolicy } from '../../rollout/policy.js';
import type { RolloutStatus } from '../../rollout/types.js';
import { parseManifest } from '../../schemas/manifest.js';
import type { BehaviourModel, SimPreauthorization } from '../../sim/protocol-device.js';
import { ProtocolFleet, type ProtocolFleetOptions } from '../../sim/protocol-fleet.js';
import type { Labels } from '../../schemas/device-api.js';
import { HARDWARE, type ReleaseHarness } from './release-harness.js';

/** The lab-only shared token of `ota serve --insecure-shared-token` (spawnOtaServe), where the test cannot open the fleet store. */
export const ENROLLMENT_TOKEN = 'test-enrollment-token-0123456789';

/**
 * How the simulated fleet is admitted: preauthorized in the fleet store the gateway uses (each
 * device's key and labels, the operator's side), or, against a spawned `ota serve`, the lab token.
 */
export type FleetAdmission = { url: string; fleet: FleetStore } | { url: string; sharedToken: string };

/** Preauthorizes simulated devices in the fleet store, as `ota fleet preauthorize --file` does. */
export async function preauthorizeIn(fleet: FleetStore, devices: SimPreauthorization[]): Promise<void> {
  const refused = await fleet.preauthorizeAll(devices);
  if (refused.length) throw new Error(`already enrolled: ${refused.join(', ')}`);
}

/** `count` devices enrolled at the gateway, all running `factoryVersion` as published by `releases`; `extra`: id prefix, seeded noise, error handling, concurrency. */
export async function enrollFleet(releases: ReleaseHarness, at: FleetAdmission, count: number, factoryVersion = '1.0.0', labelsFor?: (i: number) => Labels, extra: Pick<ProtocolFleetOptions, 'idPrefix' | 'noise' | 'onDeviceError' | 'concurrency'> = {}): Promise<ProtocolFleet> {
  const factory = parseManifest(await releases.manifestBytes(factoryVersion));
  return ProtocolFleet.enroll({
    count,
    hardwareId: HARDWARE,
    channel: 'stable',
    gatewayUrl: at.url,
    ...('fleet' in at ? { preauthorize: (devices: SimPreauthorization[]) => preauthorizeIn(at.fleet, devices) } : { tokenFor: async () => at.sharedToken }),
    trustRoot: await releases.trustRoot(),
    factory: { version: factoryVersion, imageSha256: factory.image.sha256, securityVersion: factory.securityVersion },
    labelsFor,
    ...extra,
  });
}

/** Canary of two that bakes `canaryBake`, then everyone: long enough to interrupt mid-bake. */
export function canaryThenFleet(canaryBake: string, pollInterval: string): RolloutPolicy {
  return parsePolicy({
    target: { hardware: HARDWARE },
    rings: [
      { name: 'canary', size: { count: 2 }, bakeTime: canaryBake, minReports: 2, thresholds: { failureRate: 0.2, maxFailures: 0 }, onBreach: 'halt' },
      { name: 'fleet', size: { percent: 100 }, bakeTime: '1s', minReports: 4, thresholds: { failureRate: 0.2, maxFailures: 0 }, onBreach: 'halt' },
    ],
    exposureBudget: { percent: 100 },
    maxConcurrentInstalls: 10,
    pollInterval,
  });
}

/** Devices check in every 200 ms until the rollout's status satisfies `reached` (or 30 s pass). */
export async function tickUntil(fleet: ProtocolFleet, behaviour: BehaviourModel, handle: WorkflowHandle, reached: (s: RolloutStatus) => boolean): Promise<RolloutStatus> {
  let status = await handle.query(rolloutStatusQuery);
  for (let i = 0; i < 150 && !reached(status); i++) {
    await fleet.tick(behaviour);
    await new Promise((r) => setTimeout(r, 200));
    status = await handle.query(rolloutStatusQuery);
  }
  return status;
}

/** Each ring opened once and one plan: nothing lost or repeated across crashes and new runs. */
export function ringOpenings(status: RolloutStatus): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const d of status.decisions) {
    if (d.action === 'open-ring' || d.action === 'plan') {
      const key = d.action === 'plan' ? 'plan' : d.ring!;
      counts[key] = (counts[key] ?? 0) + 1;
    }
  }
  return counts;
}

/**
 * What `ota serve` runs, in the test's process: the gateway over HTTP and a rollout worker on
 * `queue`, sharing one PGlite fleet store (PGlite allows one opener), on the harness's store.
 */
export class InProcessServices {
  private constructor(
    readonly fleetStore: FleetStore,
    readonly gateway: RunningGateway,
    private readonly config: Config,
    private worker: Worker,
    private connection: NativeConnection,
    private running: Promise<void>,
  ) {}

  static async start(releases: ReleaseHarness, queue: string): Promise<InProcessServices> {
    const fleetStore = await FleetStore.open(`pglite:${join(releases.stateDir, 'fleet')}`);
    const gateway = await startGateway({ host: '127.0.0.1', port: 0, version: 'test', fleet: fleetStore, store: releases.store, nonceTtlSeconds: 60, pollAfterSeconds: 1, releasePolicy: 'rollouts' });
    const config = { ...releases.config, temporal: { ...releases.config.temporal, taskQueue: queue } };
    const { worker, connection } = await createWorker(config.temporal, createActivities(config, { fleet: async () => fleetStore }));
    return new InProcessServices(fleetStore, gateway, config, worker, connection, worker.run());
  }

  /** Devices enrolled here are preauthorized in this gateway's fleet store. */
  get admission(): FleetAdmission {
    return { url: this.gateway.url, fleet: this.fleetStore };
  }

  /** A new worker (fresh process state) takes over the task queue after stopWorker(). */
  async startWorker(): Promise<void> {
    ({ worker: this.worker, connection: this.connection } = await createWorker(this.config.temporal, createActivities(this.config, { fleet: async () => this.fleetStore })));
    this.running = this.worker.run();
  }

  async close(): Promise<void> {
    await this.stopWorker();
    await this.gateway.close();
    await this.fleetStore.close();
  }

  async stopWorker(): Promise<void> {
    this.worker.shutdown();
    await this.running.catch(() => undefined);
    await this.connection.close();
  }
}
