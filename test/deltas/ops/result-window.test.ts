// How far the ops generator computes ahead of its in-order writer (deltas/ops/result-window.ts):
// bounded by held payload bytes and a full pool queue, not by a count of ops, so a slow op at the
// write position does not stop the other workers.
import { describe, expect, it } from 'vitest';
import { ResultWindow } from '../../../deltas/ops/result-window.js';

const MiB = 1024 * 1024;

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('ResultWindow', () => {
  it('keeps dispatching past many finished small results while the op being written is still running', async () => {
    const window = new ResultWindow(2, 32 * MiB);
    const slow = deferred<number>();
    window.track(slow.promise, (n) => n);
    let ahead = 1;
    // 100 ops after the slow one finish with a 40 KiB payload each: 4 MiB held, far below the bound.
    for (; ahead <= 100 && window.mayDispatch(ahead); ahead++) await window.track(Promise.resolve(40 * 1024), (n) => n);
    expect(ahead).toBe(101);
    expect(window.heldBytes).toBe(100 * 40 * 1024);
    expect(window.mayDispatch(ahead)).toBe(true);
    slow.resolve(0);
    await slow.promise;
  });

  it('stops at the held-bytes bound and at a full pool queue, and always lets the awaited op go', async () => {
    const window = new ResultWindow(2, 8 * MiB);
    await window.track(Promise.resolve(4 * MiB), (n) => n);
    await window.track(Promise.resolve(4 * MiB), (n) => n);
    expect(window.mayDispatch(3)).toBe(false);
    expect(window.mayDispatch(0)).toBe(true);
    window.release(4 * MiB);
    expect(window.mayDispatch(3)).toBe(true);

    const running = [deferred<number>(), deferred<number>(), deferred<number>(), deferred<number>()];
    for (const r of running) window.track(r.promise, (n) => n);
    expect(window.mayDispatch(1)).toBe(false); // 2 x workers queued or running
    let changes = 0;
    window.onChange = () => changes++;
    running[0]!.resolve(0);
    await running[0]!.promise;
    await Promise.resolve();
    expect(changes).toBe(1);
    expect(window.mayDispatch(1)).toBe(true);
  });

  it('counts a failed job as no longer running', async () => {
    const window = new ResultWindow(1, MiB);
    const failing = window.track(Promise.reject(new Error('worker died')), () => 0);
    await expect(failing).rejects.toThrow('worker died');
    window.track(new Promise<number>(() => undefined), (n) => n);
    expect(window.mayDispatch(1)).toBe(true);
  });
});
