// SLSA v1 provenance for the image, DSSE-signed into a Sigstore bundle.
import { bundleToText } from '../../signing/bundle-json.js';
import { signStatement } from '../../signing/attest.js';
import { buildProvenanceStatement } from '../../signing/provenance.js';
import type { ReleaseRequest, StoredBlob } from '../../release/types.js';
import type { ReleaseActivityDeps } from './activity-deps.js';
import { releaseInputError } from './errors.js';
import { toChunks } from './sign.js';

export async function attestProvenance(ctx: ReleaseActivityDeps, request: ReleaseRequest): Promise<StoredBlob> {
  const p = request.provenance;
  if (!p.builderId) throw releaseInputError('provenance needs a builder id: pass --builder-id or run in a CI system we recognise (GitHub Actions, GitLab CI)');
  const statement = buildProvenanceStatement([{ name: request.imageName, digest: { sha256: request.image.sha256 } }], {
    ...p,
    startedOn: p.startedOn ? new Date(p.startedOn) : undefined,
    finishedOn: p.finishedOn ? new Date(p.finishedOn) : undefined,
  });
  const bundle = await signStatement(statement, await ctx.signingMode(request.signing));
  return ctx.store.putBlob(toChunks(bundleToText(bundle)));
}
