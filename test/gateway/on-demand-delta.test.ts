// Does this check-in need an on-demand delta (gateway/on-demand-delta.ts, onDemandDecision)?
import { describe, expect, it } from 'vitest';
import { onDemandDecision, type OnDemandInput } from '../../gateway/on-demand-delta.js';
import type { UpdateChoice } from '../../schemas/manifest.js';

const full = (reason: Extract<UpdateChoice, { kind: 'full' }>['reason']): UpdateChoice => ({ kind: 'full', image: {} as never, downloadLength: 100, reason });
const base: OnDemandInput = {
  policy: { enabled: true, whileGenerating: 'retry-later', retryAfterSeconds: 30 },
  choice: full('no-delta-from-installed-image'),
  supportedFormats: ['ops', 'bsdiff'],
  upgrade: true,
  request: undefined,
  pollAfterSeconds: 300,
};
const ready = { state: 'ready' as const, sha256: 'c'.repeat(64), length: 42, location: `blobs/sha256/${'c'.repeat(64)}` };

describe('onDemandDecision', () => {
  it('asks for a delta when the manifest has none from the device image, and says come back (bounded by the poll interval)', () => {
    expect(onDemandDecision(base)).toEqual({ kind: 'request', meanwhile: 'retry-later', pollAfterSeconds: 30 });
    expect(onDemandDecision({ ...base, pollAfterSeconds: 10 })).toEqual({ kind: 'request', meanwhile: 'retry-later', pollAfterSeconds: 10 });
    expect(onDemandDecision({ ...base, request: { state: 'generating', sha256: null, length: null, location: null } })).toEqual({ kind: 'wait', meanwhile: 'retry-later', pollAfterSeconds: 30 });
  });

  it('offers the full image meanwhile under the full policy', () => {
    const policy = { ...base.policy!, whileGenerating: 'full' as const };
    expect(onDemandDecision({ ...base, policy })).toEqual({ kind: 'request', meanwhile: 'full' });
    expect(onDemandDecision({ ...base, policy, request: { state: 'pending', sha256: null, length: null, location: null } })).toEqual({ kind: 'wait', meanwhile: 'full' });
  });

  it('offers a ready delta', () => {
    expect(onDemandDecision({ ...base, request: ready })).toEqual({ kind: 'offer', sha256: ready.sha256, length: 42, location: ready.location });
  });

  it('needs nothing when off, for a rollback, for a manifest delta, an unknown image, a device without ops, or a skipped or failed one', () => {
    expect(onDemandDecision({ ...base, policy: undefined })).toEqual({ kind: 'not-needed' });
    expect(onDemandDecision({ ...base, policy: { ...base.policy!, enabled: false } })).toEqual({ kind: 'not-needed' });
    expect(onDemandDecision({ ...base, upgrade: false })).toEqual({ kind: 'not-needed' });
    expect(onDemandDecision({ ...base, choice: { kind: 'delta', delta: {} as never, downloadLength: 5 } })).toEqual({ kind: 'not-needed' });
    expect(onDemandDecision({ ...base, choice: { kind: 'up-to-date' } })).toEqual({ kind: 'not-needed' });
    expect(onDemandDecision({ ...base, choice: full('installed-image-unknown') })).toEqual({ kind: 'not-needed' });
    expect(onDemandDecision({ ...base, choice: full('no-supported-delta-format') })).toEqual({ kind: 'not-needed' });
    expect(onDemandDecision({ ...base, supportedFormats: ['bsdiff'] })).toEqual({ kind: 'not-needed' });
    expect(onDemandDecision({ ...base, request: { state: 'skipped', sha256: null, length: null, location: null } })).toEqual({ kind: 'not-needed' });
    expect(onDemandDecision({ ...base, request: { state: 'failed', sha256: null, length: null, location: null } })).toEqual({ kind: 'not-needed' });
  });
});
