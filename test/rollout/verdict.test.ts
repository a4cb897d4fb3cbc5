// Pure rollout decisions: policy validation, deterministic ring assignment, Wilson bounds, ring verdicts.
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../rollout/duration.js';
import { parsePolicy, PolicyError, resolveSize, ringTargets, type RingPolicy } from '../../rollout/policy.js';
import { assignRings, canaryOrder } from '../../rollout/ring-assignment.js';
import { ringVerdict, type RingHealth } from '../../rollout/verdict.js';
import { wilsonInterval } from '../../rollout/wilson.js';

const ring = (over: Partial<RingPolicy> = {}): RingPolicy => ({
  name: 'canary',
  size: { count: 5 },
  bakeTime: '10m',
  minReports: 5,
  thresholds: { failureRate: 0.2, maxFailures: 3, perKind: {} },
  onBreach: 'rollback',
  approval: false,
  ...over,
});

const policyData = () => ({
  target: { hardware: 'gw-x1', labels: { region: 'eu' } },
  rings: [
    { name: 'canary', size: { count: 5 }, bakeTime: '10m', minReports: 5, thresholds: { failureRate: 0.2, maxFailures: 1, perKind: { boot: { count: 0 } } }, onBreach: 'rollback' },
    { name: 'early', size: { percent: 25 }, bakeTime: '1h', minReports: 10, thresholds: { failureRate: 0.05, maxFailures: 5 }, onBreach: 'halt', approval: true },
    { name: 'fleet', size: { percent: 100 }, bakeTime: '1d', minReports: 20, thresholds: { failureRate: 0.02, maxFailures: 50 }, onBreach: 'halt' },
  ],
  exposureBudget: { percent: 30 },
  maxConcurrentInstalls: 50,
  maintenanceWindows: [{ days: ['mon', 'tue'], start: '01:00', end: '05:00' }],
});

const health = (over: Partial<RingHealth> = {}): RingHealth => ({ assigned: 5, reported: 5, committed: 5, failed: 0, failuresByKind: {}, ...over });

describe('rollout policy', () => {
  it('parses a full policy with defaults', () => {
    const p = parsePolicy(policyData());
    expect(p.rings.map((r) => r.name)).toEqual(['canary', 'early', 'fleet']);
    expect(p.statistics).toEqual({ mode: 'simple', confidence: 0.95 });
    expect(p.rings[0]!.approval).toBe(false);
    expect(p.pollInterval).toBe('30s');
  });

  it('refuses unknown keys, shrinking rings and percent above 100, naming the path', () => {
    const unknown = policyData() as Record<string, unknown>;
    (unknown.rings as Array<Record<string, unknown>>)[0]!.bake = '1m';
    expect(() => parsePolicy(unknown)).toThrow(/rings\[0\]: .*bake/);

    const shrinking = policyData();
    shrinking.rings[2]!.size = { percent: 20 };
    expect(() => parsePolicy(shrinking)).toThrow(/rings\[2\]\.size: ring sizes are cumulative and cannot shrink \(20% < 25%\)/);

    const tooBig = policyData();
    tooBig.rings[1]!.size = { percent: 150 };
    expect(() => parsePolicy(tooBig)).toThrow(/rings\[1\]\.size.*100/s);

    const badDuration = policyData();
    badDuration.rings[0]!.bakeTime = 'ten minutes';
    expect(() => parsePolicy(badDuration)).toThrow(PolicyError);
  });

  it('resolves cumulative ring targets against the fleet size', () => {
    const p = parsePolicy(policyData());
    expect(ringTargets(p, 50)).toEqual([5, 13, 50]);
    expect(ringTargets(p, 3)).toEqual([3, 3, 3]);
    expect(resolveSize({ percent: 1 }, 10)).toBe(1);
    // A percent ring that resolves below the canary count adds no devices rather than shrinking.
    const mixed = policyData();
    mixed.rings[0]!.size = { count: 20 };
    expect(ringTargets(parsePolicy(mixed), 40)).toEqual([20, 20, 40]);
  });

  it('parses durations', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(() => parseDuration('soon')).toThrow(/duration/);
  });
});

describe('ring assignment', () => {
  const devices = Array.from({ length: 50 }, (_, i) => `dev-${String(i).padStart(3, '0')}`);

  it('is stable for a rollout id and differs between rollouts', () => {
    expect(canaryOrder('r1', devices)).toEqual(canaryOrder('r1', [...devices].reverse()));
    expect(canaryOrder('r1', devices).slice(0, 5)).not.toEqual(canaryOrder('r2', devices).slice(0, 5));
  });

  const plain = devices.map((id, i) => ({ id, labels: { region: i % 2 ? 'eu' : 'us' } }));

  it('splits devices into disjoint rings covering the cumulative targets', () => {
    const rings = assignRings('r1', plain, [{ target: 5 }, { target: 13 }, { target: 50 }]);
    expect(rings.map((r) => r.length)).toEqual([5, 8, 37]);
    expect(new Set(rings.flat()).size).toBe(50);
    expect(rings[0]).toEqual(canaryOrder('r1', devices).slice(0, 5));
  });

  it('limits a ring to devices with its labels, one region at a time', () => {
    const rings = assignRings('r1', plain, [{ target: 4, labels: { region: 'eu' } }, { target: 40, labels: { region: 'eu' } }, { target: 50 }]);
    const region = (id: string) => plain.find((d) => d.id === id)!.labels.region;
    expect(rings[0]!.every((id) => region(id) === 'eu')).toBe(true);
    expect(rings[0]).toHaveLength(4);
    // Only 25 eu devices exist: the second ring takes the other 21 and stops short of 40.
    expect(rings[1]).toHaveLength(21);
    expect(rings[2]!.every((id) => region(id) === 'us')).toBe(true);
    expect(rings[2]).toHaveLength(25);
  });
});

describe('wilson interval', () => {
  it('matches published values', () => {
    // 0 failures of 5 at 95%: upper bound 0.4345 (Wilson).
    const zero = wilsonInterval(0, 5, 0.95);
    expect(zero.lower).toBe(0);
    expect(zero.upper).toBeCloseTo(0.4345, 3);
    // 5 of 5 failed: lower bound 0.5655.
    expect(wilsonInterval(5, 5, 0.95).lower).toBeCloseTo(0.5655, 3);
    expect(wilsonInterval(0, 0, 0.95)).toEqual({ lower: 0, upper: 1 });
  });
});

describe('ring verdict', () => {
  const simple = { mode: 'simple' as const, confidence: 0.95 };
  const wilson = { mode: 'wilson' as const, confidence: 0.95 };

  it('waits for reports and bake time, then passes', () => {
    expect(ringVerdict({ ring: ring(), health: health({ reported: 3, committed: 3 }), bakedMs: 0, bakeTimeMs: 600_000, statistics: simple }).verdict).toBe('wait');
    const baking = ringVerdict({ ring: ring(), health: health(), bakedMs: 60_000, bakeTimeMs: 600_000, statistics: simple });
    expect(baking).toMatchObject({ verdict: 'wait', reason: 'baking: 60s of 600s' });
    expect(ringVerdict({ ring: ring(), health: health(), bakedMs: 600_000, bakeTimeMs: 600_000, statistics: simple }).verdict).toBe('pass');
  });

  it('needs no more reports than the ring has devices, and passes an empty ring', () => {
    const small = ringVerdict({ ring: ring({ minReports: 50 }), health: health({ assigned: 3, reported: 3, committed: 3 }), bakedMs: 600_000, bakeTimeMs: 600_000, statistics: simple });
    expect(small.verdict).toBe('pass');
    expect(small.figures.minReports).toBe(3);
    expect(ringVerdict({ ring: ring(), health: health({ assigned: 0, reported: 0, committed: 0 }), bakedMs: 0, bakeTimeMs: 600_000, statistics: wilson }).verdict).toBe('pass');
  });

  it('breaches on absolute failures at once, even while baking', () => {
    const v = ringVerdict({ ring: ring(), health: health({ reported: 4, committed: 0, failed: 4, failuresByKind: { boot: 4 } }), bakedMs: 1_000, bakeTimeMs: 600_000, statistics: simple });
    expect(v.verdict).toBe('breach');
    expect(v.reason).toContain('4 devices failed');
    const perKind = ringVerdict({
      ring: ring({ thresholds: { failureRate: 0.5, maxFailures: 10, perKind: { boot: { count: 0 } } } }),
      health: health({ reported: 1, committed: 0, failed: 1, failuresByKind: { boot: 1 } }),
      bakedMs: 0,
      bakeTimeMs: 600_000,
      statistics: simple,
    });
    expect(perKind).toMatchObject({ verdict: 'breach', reason: '1 boot failures, more than the 0 allowed' });
  });

  it('breaches on the failure rate once enough devices reported', () => {
    const v = ringVerdict({ ring: ring({ thresholds: { failureRate: 0.2, maxFailures: 100, perKind: {} } }), health: health({ committed: 3, failed: 2 }), bakedMs: 0, bakeTimeMs: 1, statistics: simple });
    expect(v).toMatchObject({ verdict: 'breach', figures: { failureRate: 0.4, failed: 2, reported: 5 } });
  });

  it('in wilson mode, five healthy devices cannot pass a strict threshold on luck', () => {
    const strict = ring({ thresholds: { failureRate: 0.05, maxFailures: 100, perKind: {} } });
    const five = ringVerdict({ ring: strict, health: health(), bakedMs: 600_000, bakeTimeMs: 600_000, statistics: wilson });
    expect(five.verdict).toBe('wait');
    expect(five.reason).toContain('not yet confident');
    const many = ringVerdict({ ring: strict, health: health({ assigned: 100, reported: 100, committed: 100 }), bakedMs: 600_000, bakeTimeMs: 600_000, statistics: wilson });
    expect(many.verdict).toBe('pass');
    expect(many.figures.bound!.upper).toBeLessThan(0.05);
  });

  it('in wilson mode, one failure of five does not breach a 10% threshold, five of five do', () => {
    const r = ring({ thresholds: { failureRate: 0.1, maxFailures: 100, perKind: {} } });
    expect(ringVerdict({ ring: r, health: health({ committed: 4, failed: 1 }), bakedMs: 0, bakeTimeMs: 1, statistics: wilson }).verdict).toBe('wait');
    expect(ringVerdict({ ring: r, health: health({ committed: 0, failed: 5 }), bakedMs: 0, bakeTimeMs: 1, statistics: wilson }).verdict).toBe('breach');
  });
});
