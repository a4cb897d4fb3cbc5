// `ota verify` reads SBOM, VEX, OpenVEX and the signature/provenance bundles whole: with a limit
// enforced while reading (the manifest pins their digests, not their lengths), before digest or parse.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { OversizedInputError } from '../../verification/errors.js';
import { EVIDENCE_LIMITS, readPinned, type ArtifactReader } from '../../verification/verify-release.js';

function readerOf(open: () => Readable): ArtifactReader {
  return { open: async () => open(), read: async () => Promise.reject(new Error('read whole: unbounded')) };
}

describe('evidence read with a length cap', () => {
  it('an endless SBOM is refused at the cap (OVERSIZED_INPUT), in bounded memory', async () => {
    let served = 0;
    const endless = () =>
      new Readable({
        read() {
          served += 1 << 20;
          this.push(Buffer.alloc(1 << 20, 0x7b));
        },
      });
    const rss = process.memoryUsage().rss;
    const error = await readPinned(readerOf(endless), 'sbom', { location: 'blobs/sha256/x', sha256: '0'.repeat(64) }, EVIDENCE_LIMITS.evidenceBytes).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OversizedInputError);
    expect(error).toMatchObject({ code: 'OVERSIZED_INPUT', message: `sbom is larger than the ${EVIDENCE_LIMITS.evidenceBytes} bytes allowed` });
    expect(served).toBeLessThan(EVIDENCE_LIMITS.evidenceBytes + (4 << 20));
    expect(process.memoryUsage().rss - rss).toBeLessThan(EVIDENCE_LIMITS.evidenceBytes + (64 << 20));
  });

  it('a file within the cap is read and its pinned digest checked', async () => {
    const body = Buffer.from('{"bomFormat":"CycloneDX"}');
    const sha256 = createHash('sha256').update(body).digest('hex');
    expect(await readPinned(readerOf(() => Readable.from([body])), 'sbom', { location: 'k', sha256 }, body.length)).toEqual(body);
    await expect(readPinned(readerOf(() => Readable.from([body])), 'sbom', { location: 'k', sha256 }, body.length - 1)).rejects.toBeInstanceOf(OversizedInputError);
    await expect(readPinned(readerOf(() => Readable.from([body])), 'sbom', { location: 'k', sha256: '0'.repeat(64) }, 1024)).rejects.toThrow(/ARTIFACT_MISMATCH|differs from the manifest/);
  });
});
