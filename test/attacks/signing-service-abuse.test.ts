// Attack class: signing-service abuse through Temporal (issue 13 item 5, as an attacker would try
// it): the worker is not an open signing service.
// releaseWorkflow is started directly through the Temporal client (not the CLI) with an image
// that is already in the store, and each attempt without an allowed builder's evidence fails
// with BuilderEvidenceRejected before anything is signed: no manifest, the channel index and the
// trust root byte-identical.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { buildSampleImage } from '../../demo/sample-image.js';
import { produceBuilderEvidence } from '../../release/builder-sign.js';
import { manifestKey, releaseIndexKey, releaseWorkflowId } from '../../release/layout.js';
import type { ReleaseRequest, ReleaseStep } from '../../release/types.js';
import { builderSigningModeFromConfig } from '../../signing/from-config.js';
import { generateSigningKeyPem, loadOrCreateSigningKey, signingKeyFromPem } from '../../signing/keys.js';
import type { SigningMode } from '../../signing/signing-mode.js';
import { failureMessage } from '../../temporal/failure-message.js';
import { releaseProgressQuery, releaseWorkflow } from '../../workflows/release.js';
import { failedChecks, HARDWARE, releaseOptions, ReleaseHarness } from '../support/release-harness.js';
import { startTemporal } from '../support/temporal.js';

describe('release pipeline signs only what an allowed builder built', () => {
  let env: TestWorkflowEnvironment;
  let h: ReleaseHarness;
  let dir: string;
  let image1: string;
  let image2: string;
  let builder: SigningMode;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ota-release-builder-'));
    image1 = buildSampleImage({ version: '1.0.0', out: join(dir, 'fw-1.0.0.tar') }).path;
    image2 = buildSampleImage({ version: '9.0.0', out: join(dir, 'fw-9.0.0.tar') }).path;
    let config;
    ({ env, config } = await startTemporal());
    h = await ReleaseHarness.start(config('release-builder').address, 'release-builder');
    builder = await builderSigningModeFromConfig(h.config.builder, h.config.signing);
    // The positive path first: an image the configured builder signed is published as before.
    await h.publish({ image: image1, version: '1.0.0', securityVersion: 1 });
  });
  afterAll(async () => {
    await h?.close();
    await env?.teardown();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Starts the workflow as anyone reaching the frontend could, and returns the failure and what it left. */
  async function attack(request: ReleaseRequest) {
    const indexBefore = await h.store.getBytes(releaseIndexKey(HARDWARE, 'stable'));
    const trustBefore = await readFile(h.config.trust.trustedRootPath);
    const handle = await h.client.workflow.start(releaseWorkflow, {
      taskQueue: h.config.temporal.taskQueue,
      workflowId: releaseWorkflowId(request.hardwareId, request.version),
      args: [request],
    });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, 'the workflow must fail').toBeDefined();
    let application: ApplicationFailure | undefined;
    for (let c = err as { cause?: unknown } | undefined; c; c = c.cause as { cause?: unknown } | undefined) if (c instanceof ApplicationFailure) application = c;
    const steps: ReleaseStep[] = await handle.query(releaseProgressQuery);
    expect(await h.store.head(manifestKey(HARDWARE, request.version))).toBeUndefined();
    expect(Buffer.compare(await h.store.getBytes(releaseIndexKey(HARDWARE, 'stable')), indexBefore)).toBe(0);
    expect(Buffer.compare(await readFile(h.config.trust.trustedRootPath), trustBefore)).toBe(0);
    // Nothing after the builder check ran: the release key signed nothing.
    expect(steps.filter((s) => s.state !== 'pending').map((s) => `${s.name}:${s.state}`)).toEqual(['inspect:done', 'verify-builder:failed']);
    return {
      type: application?.type,
      nonRetryable: application?.nonRetryable,
      failure: (application?.details?.[0] as { failure?: string } | undefined)?.failure,
      message: failureMessage(err),
    };
  }

  // The attack: the 1.0.0 image, already in the store, released as 9.0.0 with security version 2.
  const forged = { image: '', version: '9.0.0', securityVersion: 2 };

  it('(a) refuses an image without a builder signature', async () => {
    const request = await h.request({ ...forged, image: image1 }, null);
    const result = await attack(request);
    expect(result).toMatchObject({ type: 'BuilderEvidenceRejected', nonRetryable: true, failure: 'missing-image-signature' });
    expect(result.message).toBe(
      `step verifyBuilder: builder evidence rejected: the request carries no builder signature over image sha256:${request.image.sha256}; only images signed by builder key ${(builder as { key: { hint: string } }).key.hint} are released`,
    );
  });

  it('(b) refuses a bundle from a key the policy does not list, the release signing key included', async () => {
    const stranger: SigningMode = { mode: 'key', key: signingKeyFromPem(generateSigningKeyPem()) };
    const result = await attack(await h.request({ ...forged, image: image1 }, stranger));
    expect(result).toMatchObject({ type: 'BuilderEvidenceRejected', failure: 'invalid-image-signature' });
    expect(result.message).toMatch(/builder signature over image sha256:[0-9a-f]{64} does not verify under builder key [0-9a-f]{64}: WRONG_KEY: signing key [0-9a-f]{64} is not pinned and allowed/);

    // The worker's own release key is not a builder key either.
    const releaseKey: SigningMode = { mode: 'key', key: await loadOrCreateSigningKey(h.config.signing.keyPath) };
    expect(await attack(await h.request({ ...forged, image: image1 }, releaseKey))).toMatchObject({ type: 'BuilderEvidenceRejected', failure: 'invalid-image-signature' });
  });

  it('(c) refuses a valid builder bundle over a different image', async () => {
    const request = await h.request({ ...forged, image: image1 }, null);
    const evidence = await produceBuilderEvidence(h.store, { path: image2, sha256: (await h.request({ image: image2, version: '9.0.0' }, null)).image.sha256, name: 'fw-9.0.0.tar' }, releaseOptions(forged), releaseOptions(forged).provenance, builder);
    const result = await attack({ ...request, builder: evidence });
    expect(result).toMatchObject({ type: 'BuilderEvidenceRejected', failure: 'invalid-image-signature' });
    expect(result.message).toMatch(/TAMPERED_ARTIFACT: artifact sha256 [0-9a-f]{64} does not match the signed digest/);
  });

  it("(d) refuses provenance whose subject is not the image", async () => {
    const request = await h.request({ ...forged, image: image1 });
    const image2Sha = (await h.request({ image: image2, version: '9.0.0' }, null)).image.sha256;
    const other = await produceBuilderEvidence(h.store, { path: image2, sha256: image2Sha, name: 'fw-9.0.0.tar' }, releaseOptions(forged), releaseOptions(forged).provenance, builder);
    const result = await attack({ ...request, builder: { imageSignature: request.builder!.imageSignature, provenance: other.provenance } });
    expect(result).toMatchObject({ type: 'BuilderEvidenceRejected', failure: 'provenance-subject-mismatch' });
    expect(result.message).toBe(
      `step verifyBuilder: builder evidence rejected: the builder provenance's subject digest (sha256:${image2Sha}) is not the image's sha256:${request.image.sha256}`,
    );
  });

  it("(e) refuses the builder's evidence for 1.0.0 replayed to release the same image as 9.0.0", async () => {
    const genuine = await h.request({ image: image1, version: '1.0.0', securityVersion: 1 });
    const replay = await h.request({ ...forged, image: image1 }, null);
    const result = await attack({ ...replay, builder: genuine.builder });
    expect(result).toMatchObject({ type: 'BuilderEvidenceRejected', failure: 'provenance-release-mismatch' });
    expect(result.message).toBe(
      'step verifyBuilder: builder evidence rejected: the builder provenance was made for version "1.0.0", but the request releases the image as version "9.0.0"',
    );
  });

  it('refuses evidence whose stored bytes differ from the digest in the request', async () => {
    const request = await h.request({ ...forged, image: image1 });
    const result = await attack({ ...request, builder: { ...request.builder!, imageSignature: { ...request.builder!.imageSignature, sha256: '0'.repeat(64) } } });
    expect(result).toMatchObject({ type: 'BuilderEvidenceRejected', failure: 'invalid-image-signature' });
    expect(result.message).toMatch(/DIGEST_MISMATCH/);
  });

  it('publishes through the normal path what the builder signed, and the release verifies', async () => {
    const published = await h.publish({ image: image2, version: '1.1.0' });
    expect(published).toMatchObject({ version: '1.1.0', outcome: 'created' });
    expect(failedChecks(await h.verify('1.1.0'))).toEqual([]);
    // The builder key is not in the device trust root: it never signs releases.
    const hint = (builder as { key: { hint: string } }).key.hint;
    expect(Object.keys((await h.trustRoot()).pinnedKeys ?? {})).not.toContain(hint);
  });
});
