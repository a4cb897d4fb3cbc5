// The release pipeline with its artifact store on S3 (a real versitygw on loopback): publish two
// releases (the second with a delta), verify them from S3, re-publish idempotently, and reject
// an artifact changed underneath the gateway.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { buildSampleImage } from '../../demo/sample-image.js';
import { manifestKey } from '../../release/layout.js';
import { parseManifest } from '../../schemas/manifest.js';
import { failedChecks, HARDWARE, ReleaseHarness } from '../support/release-harness.js';
import { startTemporal } from '../support/temporal.js';
import { startVersityGw, type VersityGw } from '../support/versitygw.js';

const BUCKET = 'ota-release-test';
const PREFIX = 'fleet-a/';

describe('release pipeline on Temporal + S3 (versitygw)', () => {
  let env: TestWorkflowEnvironment;
  let gw: VersityGw;
  let h: ReleaseHarness;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ota-s3-images-'));
    buildSampleImage({ version: '1.0.0', out: join(dir, 'a.tar') });
    buildSampleImage({ version: '1.0.1', out: join(dir, 'b.tar') });
    let config;
    [{ env, config }, gw] = await Promise.all([startTemporal(), startVersityGw()]);
    // The store resolves credentials through the ordinary AWS chain; env vars come first.
    process.env.AWS_ACCESS_KEY_ID = gw.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = gw.secretAccessKey;
    const admin = new S3Client({ endpoint: gw.endpoint, region: gw.region, forcePathStyle: true, credentials: { accessKeyId: gw.accessKeyId, secretAccessKey: gw.secretAccessKey } });
    await admin.send(new CreateBucketCommand({ Bucket: BUCKET }));
    admin.destroy();
    h = await ReleaseHarness.start(config('release-s3').address, 'release-s3', {
      OTA_STORE: `s3://${BUCKET}/${PREFIX}`,
      OTA_S3_ENDPOINT: gw.endpoint,
      OTA_S3_REGION: gw.region,
      OTA_S3_FORCE_PATH_STYLE: 'true',
    });
  });
  afterAll(async () => {
    await h?.close();
    await env?.teardown();
    await gw?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('publishes 1.0.0 and 1.0.1 (with a delta) into the bucket and verifies them from S3', async () => {
    expect(h.store.location).toBe(`s3://${BUCKET}/${PREFIX}`);
    const first = await h.publish({ image: join(dir, 'a.tar'), version: '1.0.0', securityVersion: 3 });
    expect(first).toMatchObject({ outcome: 'created', deltas: 0 });
    const second = await h.publish({ image: join(dir, 'b.tar'), version: '1.0.1' });
    // No --security-version: the highest published one is kept.
    expect(second).toMatchObject({ outcome: 'created', deltas: 2, skippedDeltas: 0 });

    const m = parseManifest(await h.manifestBytes('1.0.1'));
    expect(m.securityVersion).toBe(3);
    expect(m.image.sha256).toBe(createHash('sha256').update(await readFile(join(dir, 'b.tar'))).digest('hex'));
    expect(m.deltas[0]).toMatchObject({ fromVersion: '1.0.0' });
    expect((await h.index())?.releases.map((r) => r.version)).toEqual(['1.0.0', '1.0.1']);

    // The objects really are in the bucket, under the prefix (versitygw's posix backend shows them).
    expect((await readFile(join(gw.rootDir, BUCKET, PREFIX, manifestKey(HARDWARE, '1.0.1')))).equals(await h.manifestBytes('1.0.1'))).toBe(true);

    for (const version of ['1.0.0', '1.0.1']) {
      const report = await h.verify(version);
      expect(failedChecks(report)).toEqual([]);
    }
  });

  it('re-publishing the same image returns the existing release; a different one is refused', async () => {
    const again = await h.publish({ image: join(dir, 'b.tar'), version: '1.0.1' });
    expect(again.outcome).toBe('existing');
    const message = await h.publishFailure({ image: join(dir, 'a.tar'), version: '1.0.1' });
    expect(message).toMatch(/^version 1\.0\.1 is already published with image sha256 [0-9a-f]{64}; this image is [0-9a-f]{64}\. Publish it under a new version\.$/);
    expect((await h.index())?.releases.map((r) => r.version)).toEqual(['1.0.0', '1.0.1']);
  });

  it('rejects a delta changed underneath the gateway, and accepts it again once restored', async () => {
    const m = parseManifest(await h.manifestBytes('1.0.1'));
    const path = join(gw.rootDir, BUCKET, PREFIX, m.deltas[0]!.location);
    const original = await readFile(path);
    const changed = Buffer.from(original);
    changed[100] = changed[100]! ^ 0x01;
    await writeFile(path, changed);
    try {
      const report = await h.verify('1.0.1');
      // Either our digest check or, first, the SDK's validation of versitygw's stored CRC32 catches it.
      expect(failedChecks(report)).toEqual([expect.stringMatching(/^delta from 1\.0\.0: (ARTIFACT_MISMATCH: |Checksum mismatch)/)]);
    } finally {
      await writeFile(path, original);
    }
    expect((await h.verify('1.0.1')).ok).toBe(true);
  });
});
