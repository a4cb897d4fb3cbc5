// A simulated fleet split across child processes (sim/fleet-shard-child.ts), each running a shard of
// protocol devices (sim/protocol-fleet.ts). The devices' own work (Ed25519 signing, TLS client
// handshakes, JSON) then runs beside the gateway instead of in its process, so a bench measures the
// gateway, not the load generator sharing its core. Behaviour crosses the process boundary as data.
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../platform/paths.js';
import type { FailureKind } from '../schemas/device-api.js';
import type { LocalTrustRootJSON } from '../signing/trust-root.js';
import type { InstalledImage, SimPreauthorization } from './protocol-device.js';

/** What installing a release does, as data: releases listed in `failing` fail with `kind`; the rest commit. */
export interface BehaviourSpec {
  failing?: { versions: string[]; kind: FailureKind; fallsBack: boolean };
}

export interface ShardInit {
  idPrefix: string;
  /** Device indices [from, from + count): ids `<prefix>-<index, 5 digits>`. */
  from: number;
  count: number;
  hardwareId: string;
  channel: string;
  gatewayUrl: string;
  fleetCaPem?: string;
  trustRoot: LocalTrustRootJSON;
  factory: InstalledImage;
  concurrency: number;
}

export type ShardRequest =
  | { type: 'init'; init: ShardInit }
  | { type: 'enroll' }
  | { type: 'tick'; behaviour: BehaviourSpec }
  | { type: 'exit' };

export type ShardReply =
  | { type: 'preauthorizations'; list: SimPreauthorization[] }
  | { type: 'enrolled' }
  | { type: 'ticked'; actions: Record<string, number>; versions: Record<string, number>; deviceErrors: number; freshNonces: number; peakRssBytes: number }
  /** Progress during enroll: devices of this shard enrolled so far. */
  | { type: 'enrolling'; enrolled: number }
  /** Sent as it happens: the moment a device's install failed (its failure report follows at once). */
  | { type: 'failure'; at: number }
  | { type: 'error'; message: string }
  | { type: 'bye'; peakRssBytes: number };

export const shardChildPath = join(projectRoot, 'dist', 'sim', 'fleet-shard-child.js');

export interface ShardedFleetOptions extends Omit<ShardInit, 'from' | 'count' | 'idPrefix' | 'concurrency'> {
  count: number;
  /** Child processes (default 1). */
  processes?: number;
  idPrefix?: string;
  /** Parallel conversations per process (default 32). */
  concurrency?: number;
  /** Records each device's key and selectors on the operator side before they enroll. */
  preauthorize: (devices: SimPreauthorization[]) => Promise<void>;
  /** Called at each install failure, in the parent, as it happens. */
  onFailure?: (at: number) => void;
  /** Called as shards report enrollment progress (every few seconds each): devices enrolled across all shards. */
  onEnrollProgress?: (enrolled: number) => void;
}

export interface TickSummary {
  actions: Record<string, number>;
  versions: Record<string, number>;
  deviceErrors: number;
  /** Check-ins that fetched a nonce first (none held, or the held one expired): two requests, not one. */
  freshNonces: number;
}

class Shard {
  private pending?: { expect: ShardReply['type']; resolve: (reply: ShardReply) => void; reject: (error: Error) => void };
  peakRssBytes = 0;

  /** Devices of this shard enrolled so far (from its progress messages). */
  enrolled = 0;

  constructor(
    private readonly child: ChildProcess,
    onFailure: (at: number) => void,
    onProgress: () => void = () => undefined,
  ) {
    child.on('message', (reply: ShardReply) => {
      if (reply.type === 'failure') return onFailure(reply.at);
      if (reply.type === 'enrolling') {
        this.enrolled = reply.enrolled;
        return onProgress();
      }
      const waiting = this.pending;
      this.pending = undefined;
      if (!waiting) return;
      if (reply.type === 'error') waiting.reject(new Error(`device shard: ${reply.message}`));
      else if (reply.type !== waiting.expect) waiting.reject(new Error(`device shard answered ${reply.type}, expected ${waiting.expect}`));
      else {
        if ('peakRssBytes' in reply) this.peakRssBytes = Math.max(this.peakRssBytes, reply.peakRssBytes);
        waiting.resolve(reply);
      }
    });
    child.on('exit', (code, signal) => {
      this.pending?.reject(new Error(`device shard exited (${signal ?? code})`));
      this.pending = undefined;
    });
  }

  ask<T extends ShardReply['type']>(request: ShardRequest, expect: T): Promise<Extract<ShardReply, { type: T }>> {
    if (this.pending) return Promise.reject(new Error('device shard is busy'));
    return new Promise((resolve, reject) => {
      this.pending = { expect, resolve: resolve as (reply: ShardReply) => void, reject };
      this.child.send(request);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

export class ShardedFleet {
  private constructor(private readonly shards: Shard[]) {}

  get processIds(): number[] {
    return this.shards.map((s) => s.pid ?? -1);
  }

  /** Starts the processes, preauthorizes every device, then enrolls them all (each gets its certificate under mTLS). */
  static async enroll(opts: ShardedFleetOptions): Promise<ShardedFleet> {
    const processes = Math.max(1, Math.min(opts.processes ?? 1, opts.count));
    const shards: Shard[] = [];
    const fleet = new ShardedFleet(shards);
    try {
      for (let i = 0; i < processes; i++) {
        const child = fork(shardChildPath, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
        const progress = () => opts.onEnrollProgress?.(shards.reduce((n, s) => n + s.enrolled, 0));
        shards.push(new Shard(child, opts.onFailure ?? (() => undefined), progress));
      }
      const per = Math.ceil(opts.count / processes);
      const lists = await Promise.all(
        shards.map((shard, i) =>
          shard.ask({
            type: 'init',
            init: {
              idPrefix: opts.idPrefix ?? 'sim', from: i * per, count: Math.max(0, Math.min(per, opts.count - i * per)),
              hardwareId: opts.hardwareId, channel: opts.channel, gatewayUrl: opts.gatewayUrl, fleetCaPem: opts.fleetCaPem,
              trustRoot: opts.trustRoot, factory: opts.factory, concurrency: opts.concurrency ?? 32,
            },
          }, 'preauthorizations'),
        ),
      );
      await opts.preauthorize(lists.flatMap((l) => l.list));
      await Promise.all(shards.map((shard) => shard.ask({ type: 'enroll' }, 'enrolled')));
      return fleet;
    } catch (error) {
      fleet.kill();
      throw error;
    }
  }

  /** Every device checks in once (and installs what it is offered); the fleet's counts afterwards. */
  async tick(behaviour: BehaviourSpec = {}): Promise<TickSummary> {
    const replies = await Promise.all(this.shards.map((shard) => shard.ask({ type: 'tick', behaviour }, 'ticked')));
    const sum = (pick: (r: (typeof replies)[number]) => Record<string, number>) => {
      const total: Record<string, number> = {};
      for (const reply of replies) for (const [k, v] of Object.entries(pick(reply))) total[k] = (total[k] ?? 0) + v;
      return total;
    };
    return { actions: sum((r) => r.actions), versions: sum((r) => r.versions), deviceErrors: replies.reduce((n, r) => n + r.deviceErrors, 0), freshNonces: replies.reduce((n, r) => n + r.freshNonces, 0) };
  }

  /** Peak RSS each device process reported, in bytes (one entry per process). */
  peakRssBytes(): number[] {
    return this.shards.map((s) => s.peakRssBytes);
  }

  /** Asks every process to stop; returns their peak RSS in bytes. */
  async close(): Promise<number[]> {
    const byes = await Promise.all(this.shards.map((shard) => shard.ask({ type: 'exit' }, 'bye').catch(() => undefined)));
    this.kill();
    return byes.map((b, i) => b?.peakRssBytes ?? this.shards[i]!.peakRssBytes);
  }

  kill(): void {
    for (const shard of this.shards) shard.kill();
  }
}
