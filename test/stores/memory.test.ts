// A 200 MB artifact must stream through each backend (upload, then download) without
// buffering it: memory is bounded by part buffers (S3: 4 parts x 5 MiB in flight) and stream
// high-water marks, not by object size. Runs in its own test file, hence its own worker, so
// the RSS figures are not polluted by other suites.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localBackend, s3Backend, startVersityGw, type BackendUnderTest } from '../support/stores-backends.js';
import { digestOf, generatedBytes } from '../support/stores-bytes.js';
import type { VersityGw } from '../support/versitygw.js';

const OBJECT_BYTES = 200 * 1024 * 1024;
const CHUNK_BYTES = 1024 * 1024;
// Generous against the expected ~20-60 MB, yet far below the 200 MB a buffering
// implementation would need for the object alone.
const RSS_GROWTH_LIMIT = 150 * 1024 * 1024;

let gateway: VersityGw | undefined;
beforeAll(async () => {
  gateway = await startVersityGw();
});
afterAll(async () => {
  await gateway?.stop();
});

/** Samples RSS while work runs; returns the peak growth over the starting RSS. */
async function peakRssGrowth(work: () => Promise<void>): Promise<{ peakGrowth: number; maxRssGrowth: number }> {
  const baseline = process.memoryUsage.rss();
  const maxRssBefore = process.resourceUsage().maxRSS * 1024;
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  try {
    await work();
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, process.memoryUsage.rss());
  return { peakGrowth: peak - baseline, maxRssGrowth: process.resourceUsage().maxRSS * 1024 - maxRssBefore };
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

describe.each([localBackend, s3Backend(() => gateway!)])('200 MB transfer through $name', (backend) => {
  let subject: BackendUnderTest;
  beforeAll(async () => {
    subject = await backend.open();
  });
  afterAll(async () => {
    await subject?.dispose();
  });

  it('uploads and downloads 200 MB with bounded memory', { timeout: 240_000 }, async () => {
    const source: { sha256?: string } = {};
    let uploaded: { sha256: string; size: number; key: string } | undefined;
    let downloaded: { sha256: string; size: number } | undefined;
    let lastProgress = 0;
    const started = performance.now();
    let uploadMs = 0;
    const { peakGrowth, maxRssGrowth } = await peakRssGrowth(async () => {
      uploaded = await subject.store.putBlob(generatedBytes(OBJECT_BYTES, CHUNK_BYTES, source), {
        onProgress: (bytes) => (lastProgress = bytes),
      });
      uploadMs = performance.now() - started;
      downloaded = await digestOf(await subject.store.getStream(uploaded.key));
    });
    const totalMs = performance.now() - started;
    console.log(
      `[stores.memory] ${backend.name}: 200 MiB up ${(uploadMs / 1000).toFixed(1)} s, up+down ${(totalMs / 1000).toFixed(1)} s, ` +
        `peak RSS growth ${mib(peakGrowth)}, maxRSS growth ${mib(maxRssGrowth)}`,
    );
    expect(uploaded?.size).toBe(OBJECT_BYTES);
    expect(uploaded?.sha256).toBe(source.sha256);
    expect(lastProgress).toBe(OBJECT_BYTES);
    expect(downloaded).toEqual({ sha256: source.sha256, size: OBJECT_BYTES });
    expect(peakGrowth).toBeLessThan(RSS_GROWTH_LIMIT);
    expect(maxRssGrowth).toBeLessThan(RSS_GROWTH_LIMIT);
    expect(await subject.leftovers()).toEqual([]);
  });
});
