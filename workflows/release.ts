// ReleaseWorkflow: turns an ingested image into one signed, published release.
// Each step is an activity with retries, timeouts and heartbeats; the decisions between
// them are pure functions from release/decisions.ts. Publishing comes last and is atomic.
import { ApplicationFailure, defineQuery, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { assembleManifest } from '../release/assemble-manifest.js';
import { checkSecurityVersion, chooseDeltaBases, decideOnExistingRelease, defaultSecurityVersion } from '../release/decisions.js';
import { resolveReleaseTimeouts } from '../release/timeouts.js';
import { RELEASE_DELTA_FORMATS, RELEASE_STEPS, type ArtifactSet, type DeltaOutcome, type PublishedRelease, type ReleaseRequest, type ReleaseStep, type ReleaseTimeouts } from '../release/types.js';

// BuilderEvidenceRejected: the image lacks an allowed builder's signature or provenance (activities/release/verify-builder.ts).
const NON_RETRYABLE = ['ReleaseInputError', 'ConflictError', 'BuilderEvidenceRejected'];

/** Quick steps run for seconds; heavy ones stream whole images and heartbeat, so a dead worker is noticed in a minute, not hours. */
function activityProxies(timeouts: ReleaseTimeouts | undefined) {
  const t = resolveReleaseTimeouts(timeouts);
  const quick = proxyActivities<Activities>({
    startToCloseTimeout: t.quickStepSeconds * 1000,
    retry: { maximumAttempts: 5, initialInterval: '1 second', nonRetryableErrorTypes: NON_RETRYABLE },
  });
  const heavy = proxyActivities<Activities>({
    startToCloseTimeout: t.heavyStepSeconds * 1000,
    heartbeatTimeout: t.heartbeatSeconds * 1000,
    retry: { maximumAttempts: 5, initialInterval: '2 seconds', nonRetryableErrorTypes: NON_RETRYABLE },
  });
  return { quick, heavy };
}

export const releaseProgressQuery = defineQuery<ReleaseStep[]>('progress');

export async function releaseWorkflow(request: ReleaseRequest): Promise<PublishedRelease> {
  const steps: ReleaseStep[] = RELEASE_STEPS.map((name) => ({ name, state: 'pending' }));
  setHandler(releaseProgressQuery, () => steps);
  const { quick, heavy } = activityProxies(request.timeouts);
  const step = async <T>(name: (typeof RELEASE_STEPS)[number], run: () => Promise<T>, describe?: (result: T) => string): Promise<T> => {
    const entry = steps.find((s) => s.name === name)!;
    entry.state = 'running';
    try {
      const result = await run();
      entry.state = 'done';
      if (describe) entry.detail = describe(result);
      return result;
    } catch (err) {
      entry.state = 'failed';
      entry.detail = (err as Error).message;
      throw err;
    }
  };

  const context = await step('inspect', () => quick.inspectRelease(request));
  const existing = decideOnExistingRelease(context.existing, request.version, request.image.sha256);
  if (existing.action === 'refuse') throw ApplicationFailure.nonRetryable(existing.reason, 'ReleaseInputError');
  if (existing.action === 'return-existing') {
    for (const s of steps) if (s.state === 'pending') s.state = 'skipped';
    return quick.completeExistingRelease(request.hardwareId, request.version);
  }
  const securityVersion = request.securityVersion ?? defaultSecurityVersion(context.published);
  const securityCheck = checkSecurityVersion(context.published, securityVersion);
  if (!securityCheck.ok) throw ApplicationFailure.nonRetryable(securityCheck.reason, 'ReleaseInputError');
  // Before anything is signed: the image must come with an allowed builder's signature and provenance.
  await step('verify-builder', () => heavy.verifyBuilder(request), (v) => `built by ${v.signer}`);

  // The workflow's start time stamps every document, so retries and replays produce identical bytes.
  const created = new Date(workflowInfo().startTime);
  const compressedImage = await step('compress', () => heavy.compressImage(request.image), (b) => `${b.size} bytes gzip`);
  const imageSignatureBundle = await step('sign', () => heavy.signImage(request));
  const provenance = await step('provenance', () => quick.attestProvenance(request));
  const sbom = await step('sbom', () => heavy.generateSbom(request, created.toISOString()), (s) => `${s.components} components`);
  const vex = await step('vex', () => quick.generateVex(request, sbom, created.toISOString()), (v) => `${v.statements} statements`);

  const bases = chooseDeltaBases(context.channelReleases, request.version, request.deltaCount);
  const deltas: DeltaOutcome[] = await step(
    'deltas',
    // One activity per base and format: a retry redoes only the delta that failed.
    () => Promise.all(bases.flatMap((base) => RELEASE_DELTA_FORMATS.map((format) => heavy.generateDelta(request, base, compressedImage, format)))),
    (all) => `${all.filter((d) => d.kind === 'delta').length} made, ${all.filter((d) => d.kind === 'skipped').length} skipped`,
  );

  const artifacts: ArtifactSet = { compressedImage, imageSignatureBundle, provenance, sbom: sbom.blob, vex: vex.vex, openvex: vex.openvex, deltas, bootMeasurement: context.bootMeasurement };
  const manifest = assembleManifest(request, securityVersion, artifacts, created);
  // Signing and publishing are separate activities: a retried publish reuses the recorded
  // bundle, so the same bytes are written and the conditional create stays idempotent.
  const signed = await step('sign-manifest', () => quick.signManifest(manifest, request.signing));
  return step('publish', () => quick.publishRelease(manifest, signed), (p) => `${p.outcome} ${p.manifestKey}`);
}
