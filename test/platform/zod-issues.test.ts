import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeZodIssues, zodIssueFields, zodIssueLines, zodIssuePath } from '../../platform/zod-issues.js';

const schema = z.object({ rings: z.array(z.object({ size: z.int().min(1) }).strict()), name: z.string() }).strict();
const errorOf = (data: unknown) => {
  const parsed = schema.safeParse(data);
  if (parsed.success) throw new Error('expected a zod error');
  return parsed.error;
};

describe('zod issue formatting', () => {
  it('writes paths with dots by default and brackets on request, naming an empty path', () => {
    expect(zodIssuePath(['rings', 0, 'size'])).toBe('rings.0.size');
    expect(zodIssuePath(['rings', 0, 'size'], { indexes: 'brackets' })).toBe('rings[0].size');
    expect(zodIssuePath([0, 'x'], { indexes: 'brackets' })).toBe('[0].x');
    expect(zodIssuePath([])).toBe('(root)');
    expect(zodIssuePath([], { root: '(record)' })).toBe('(record)');
  });

  it('keeps zod\'s unknown-key issue on the parent, or splits it per key', () => {
    const error = errorOf({ rings: [{ size: 0, bake: 1 }], name: 'n', extra: true });
    expect(zodIssueLines(error, { indexes: 'brackets' })).toEqual([
      'rings[0].size: Too small: expected number to be >=1',
      'rings[0]: Unrecognized key: "bake"',
      '(root): Unrecognized key: "extra"',
    ]);
    expect(zodIssueFields(error, { unknownKeys: 'per-key' })).toEqual([
      { path: 'rings.0.size', message: 'Too small: expected number to be >=1' },
      { path: 'rings.0.bake', message: 'unknown field' },
      { path: 'extra', message: 'unknown field' },
    ]);
  });

  it('joins issues on one line', () => {
    expect(describeZodIssues(errorOf({ rings: [] }))).toBe('name: Invalid input: expected string, received undefined');
    expect(describeZodIssues(errorOf(null), { root: '(record)' })).toBe('(record): Invalid input: expected object, received null');
    expect(describeZodIssues({ issues: [...errorOf({}).issues] })).toBe(
      'rings: Invalid input: expected array, received undefined; name: Invalid input: expected string, received undefined',
    );
  });
});
