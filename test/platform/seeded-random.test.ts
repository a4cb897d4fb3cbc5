import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../platform/seeded-random.js';

describe('PRNG', () => {
  it('mulberry32 is deterministic and roughly uniform', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01); // s.e. 0.0029
    expect(mulberry32(43)()).not.toBe(mulberry32(42)());
  });
});
