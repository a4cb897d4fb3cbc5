// The rollout policy: who gets a release, in which rings, how long each ring bakes, what
// counts as unhealthy, and what happens then. Validated strictly so a typo never weakens a gate.
import { z } from 'zod';
import { zodIssueLines } from '../platform/zod-issues.js';
import { failureKindSchema } from '../schemas/failure-kinds.js';
import { hardwareIdSchema } from '../schemas/manifest.js';
import { parseDuration } from './duration.js';

const durationSchema = z.string().refine((v) => {
  try {
    parseDuration(v);
    return true;
  } catch {
    return false;
  }
}, 'must be a duration such as 30s, 15m, 2h or 1d');

/** Either an absolute device count or a percentage of the targeted fleet. */
const sizeSchema = z.union([
  z.object({ count: z.int().min(1) }).strict(),
  z.object({ percent: z.number().gt(0).max(100, 'percent cannot be above 100') }).strict(),
]);

const limitSchema = z
  .object({
    /** Breach when the failure rate among reporting devices exceeds this (0..1). */
    rate: z.number().min(0).max(1).optional(),
    /** Breach when more than this many devices failed. */
    count: z.int().min(0).optional(),
  })
  .strict();

const thresholdsSchema = z
  .object({
    failureRate: z.number().min(0).max(1),
    maxFailures: z.int().min(0),
    perKind: z.partialRecord(failureKindSchema, limitSchema).default({}),
  })
  .strict();

const ringSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be a short lowercase name such as canary'),
    /** Cumulative: how many devices are on the release once this ring is entered. */
    size: sizeSchema,
    /** Only devices with all these labels may join this ring (e.g. one region at a time). */
    labels: z.record(z.string(), z.string()).optional(),
    bakeTime: durationSchema,
    minReports: z.int().min(1),
    thresholds: thresholdsSchema,
    onBreach: z.enum(['halt', 'rollback']),
    /** A person must approve before devices of this ring get the release. */
    approval: z.boolean().default(false),
    /**
     * Sequential statistics only: this ring applies its absolute thresholds and nothing else (a ring
     * too small for the test, e.g. a 5-device canary that halts on any boot failure). Uses no α.
     */
    tripwire: z.boolean().optional(),
    /** Sequential statistics only: this ring's smallest harmful effect (absolute), instead of statistics.minEffect. */
    minEffect: z.number().gt(0).lt(1).optional(),
    /** Sequential statistics only: this ring's miss probability, instead of statistics.beta. */
    beta: z.number().gt(0).lt(0.5).optional(),
    /**
     * Longest the ring may stay undecided after it opens: then the rollout holds as `inconclusive`
     * until a person approves (the ring counts as passed) or aborts. Required with sequential statistics.
     */
    decisionDeadline: durationSchema.optional(),
    /**
     * Longest a device may take, from the gateway's first offer, to report an outcome (committed,
     * failed, rolled back): past it the device counts as a `timed-out` failure of the ring (a device
     * that bricks and never reports again). Absent: no deadline.
     */
    installDeadline: durationSchema.optional(),
    /**
     * What an undecided ring does at its deadline: hold as inconclusive for a person (default), or
     * pass (a halt still needs the halt boundary, so α is kept; it costs power, which `ota rollout plan` shows).
     */
    atDeadline: z.enum(['inconclusive', 'pass']).optional(),
  })
  .strict();

const simpleStatisticsSchema = z
  .object({
    /** simple: compare observed rates; wilson: use confidence bounds so small canaries cannot pass or fail on luck. */
    mode: z.enum(['simple', 'wilson']).default('simple'),
    confidence: z.number().gt(0.5).lt(1).default(0.95),
  })
  .strict();

/** sequential: Wald's SPRT per ring at every poll (rollout/sequential-test.ts, docs/rollout-decision-rule.md). */
const sequentialStatisticsSchema = z
  .object({
    mode: z.literal('sequential'),
    /** Whole rollout's probability of halting a good release, split over the rings that are not tripwires. */
    alpha: z.number().gt(0).lt(0.5),
    /** Probability of passing a release that is worse by minEffect (per ring). */
    beta: z.number().gt(0).lt(0.5),
    /** Smallest harmful effect, absolute: 0.03 = 3 percentage points over baselineRate. */
    minEffect: z.number().gt(0).lt(1),
    /** Background failure rate of a good release (devices fail for other reasons too). */
    baselineRate: z.number().gt(0).lt(1),
  })
  .strict();

const statisticsSchema = z
  .preprocess(
    // No mode given: simple, as before sequential existed.
    (v) => (v && typeof v === 'object' && !Array.isArray(v) && !('mode' in v) ? { ...v, mode: 'simple' } : v),
    z.discriminatedUnion('mode', [simpleStatisticsSchema.extend({ mode: z.enum(['simple', 'wilson']) }), sequentialStatisticsSchema], {
      error: (issue) => (issue.code === 'invalid_union' ? 'mode must be simple, wilson or sequential' : undefined),
    }),
  )
  .default({ mode: 'simple', confidence: 0.95 });

const windowSchema = z
  .object({
    days: z.array(z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'])).min(1),
    start: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (UTC)'),
    end: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (UTC)'),
  })
  .strict();

export const rolloutPolicySchema = z
  .object({
    target: z
      .object({
        hardware: hardwareIdSchema,
        /** Every label must match, e.g. { region: eu-west }. */
        labels: z.record(z.string(), z.string()).default({}),
      })
      .strict(),
    rings: z.array(ringSchema).min(1),
    statistics: statisticsSchema,
    /** Most devices that may ever be on the release before the last ring is approved. */
    exposureBudget: sizeSchema,
    maxConcurrentInstalls: z.int().min(1),
    /** Installs start only inside a window (UTC); none means any time. */
    maintenanceWindows: z.array(windowSchema).default([]),
    /** How often ring health is read while baking. */
    pollInterval: durationSchema.default('30s'),
    /** This many failed health reads in a row hold the rollout (reason health-errors) until a person approves or aborts. */
    healthErrorLimit: z.int().min(1).default(4),
    /**
     * A device that heartbeated in a ring's window and then sent none for this long counts as a
     * `silent` post-commit failure, on the release and in the control alike (a few heartbeat
     * windows; devices restart and networks drop). Absent: silence is not counted.
     */
    silentAfter: durationSchema.optional(),
  })
  .strict()
  .superRefine((policy, ctx) => {
    const names = new Set<string>();
    const sequential = policy.statistics.mode === 'sequential';
    if (sequential && policy.rings.every((r) => r.tripwire)) {
      ctx.addIssue({ code: 'custom', path: ['rings'], message: 'sequential statistics need at least one ring that is not a tripwire' });
    }
    policy.rings.forEach((ring, i) => {
      if (!sequential) {
        for (const key of ['tripwire', 'minEffect', 'beta'] as const) {
          if (ring[key] !== undefined) {
            ctx.addIssue({ code: 'custom', path: ['rings', i, key], message: `${key} applies only with statistics.mode sequential` });
          }
        }
      } else {
        if (!ring.decisionDeadline) ctx.addIssue({ code: 'custom', path: ['rings', i, 'decisionDeadline'], message: 'required with sequential statistics (e.g. 1d): an undecided ring must not wait forever' });
        const stats = policy.statistics as SequentialStatistics;
        const effect = ring.minEffect ?? stats.minEffect;
        if (!ring.tripwire && stats.baselineRate + effect >= 1) {
          ctx.addIssue({ code: 'custom', path: ['rings', i, 'minEffect'], message: `baselineRate + minEffect must be below 1 (${stats.baselineRate} + ${effect})` });
        }
      }
      if (ring.atDeadline === 'pass' && !ring.decisionDeadline) {
        ctx.addIssue({ code: 'custom', path: ['rings', i, 'atDeadline'], message: 'needs a decisionDeadline' });
      }
      // A bricked device counts only once its install deadline passed: a ring that may pass before
      // then (its bake time over, enough reports from the others) never sees it.
      if (ring.installDeadline && parseDuration(ring.installDeadline) > parseDuration(ring.bakeTime)) {
        ctx.addIssue({ code: 'custom', path: ['rings', i, 'installDeadline'], message: `must not be longer than the bake time (${ring.installDeadline} > ${ring.bakeTime}): the ring could pass before its bricked devices time out` });
      }
      if (ring.decisionDeadline && parseDuration(ring.decisionDeadline) < parseDuration(ring.bakeTime)) {
        ctx.addIssue({ code: 'custom', path: ['rings', i, 'decisionDeadline'], message: `must not be shorter than the bake time (${ring.decisionDeadline} < ${ring.bakeTime})` });
      }
      if (names.has(ring.name)) ctx.addIssue({ code: 'custom', path: ['rings', i, 'name'], message: `duplicate ring name ${ring.name}` });
      names.add(ring.name);
      const previous = policy.rings[i - 1];
      if (previous && 'count' in ring.size && 'count' in previous.size && ring.size.count < previous.size.count) {
        ctx.addIssue({ code: 'custom', path: ['rings', i, 'size'], message: `ring sizes are cumulative and cannot shrink (${ring.size.count} < ${previous.size.count})` });
      }
      if (previous && 'percent' in ring.size && 'percent' in previous.size && ring.size.percent < previous.size.percent) {
        ctx.addIssue({ code: 'custom', path: ['rings', i, 'size'], message: `ring sizes are cumulative and cannot shrink (${ring.size.percent}% < ${previous.size.percent}%)` });
      }
    });
  });

export type RolloutPolicy = z.infer<typeof rolloutPolicySchema>;
export type RingPolicy = RolloutPolicy['rings'][number];
export type RolloutStatistics = RolloutPolicy['statistics'];
export type SequentialStatistics = z.infer<typeof sequentialStatisticsSchema>;
export type SimpleStatistics = Exclude<RolloutStatistics, SequentialStatistics>;
export type RingThresholds = RingPolicy['thresholds'];
export type Size = z.infer<typeof sizeSchema>;

export class PolicyError extends Error {
  override name = 'PolicyError';
}

export function parsePolicy(data: unknown, source = 'policy'): RolloutPolicy {
  const parsed = rolloutPolicySchema.safeParse(data);
  if (!parsed.success) {
    const lines = zodIssueLines(parsed.error, { indexes: 'brackets' });
    throw new PolicyError(`invalid rollout ${source}:\n  ${lines.join('\n  ')}`);
  }
  return parsed.data;
}

/** Resolves a size against the number of targeted devices (percent rounds up: a ring is never empty). */
export function resolveSize(size: Size, fleetSize: number): number {
  const n = 'count' in size ? size.count : Math.ceil((size.percent / 100) * fleetSize);
  return Math.min(fleetSize, n);
}

/**
 * Cumulative device counts per ring for a fleet of this size. Mixed units can resolve out of
 * order on small fleets (5 canaries, then 25% of 12 = 3): such a ring adds no devices.
 */
export function ringTargets(policy: RolloutPolicy, fleetSize: number): number[] {
  let reached = 0;
  return policy.rings.map((ring) => (reached = Math.max(reached, resolveSize(ring.size, fleetSize))));
}

/** The policy's silentAfter in whole seconds (at least 1), or undefined when silence is not counted. */
export function silentAfterSeconds(policy: RolloutPolicy): number | undefined {
  return policy.silentAfter ? Math.max(1, Math.round(parseDuration(policy.silentAfter) / 1000)) : undefined;
}
