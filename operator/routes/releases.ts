// /v1/releases: list per hardware, one release with its manifest, SBOM components, VEX statements
// and provenance, its manifest bytes (what an approver signs), and a second signer's approval.
import { z } from 'zod';
import type { OperatorDeps } from '../deps.js';
import { OperatorError } from '../errors.js';
import type { OperatorRouter } from '../route.js';
import { approveReleaseBySignature, listReleases, releaseDetail, releaseManifestBytes } from '../release-service.js';
import { TrustError } from '../../trust/errors.js';

const hardwareParams = z.object({ hardware: z.string().max(64) });
const releaseParams = z.object({ hardware: z.string().max(64), version: z.string().max(64) });
const approveBody = z
  .object({
    keyID: z.string().regex(/^[0-9a-f]{64}$/, 'must be the TUF key id (64 hex digits) of a release signer'),
    signature: z.string().regex(/^[0-9a-f]{16,512}$/, 'must be the hex DER ECDSA signature over the manifest bytes'),
    reason: z.string().max(1000).optional(),
  })
  .strict();

export function registerReleaseRoutes(router: OperatorRouter, deps: OperatorDeps): void {
  router.add({
    method: 'GET',
    url: '/v1/releases/:hardware',
    action: 'release.read',
    summary: 'releases of a hardware id, per channel, newest first',
    params: hardwareParams,
    handler: async ({ params }) => ({ releases: await listReleases(deps.store, params.hardware) }),
  });
  router.add({
    method: 'GET',
    url: '/v1/releases/:hardware/:version',
    action: 'release.read',
    summary: 'the manifest, SBOM components, VEX statements and SLSA provenance of one release',
    params: releaseParams,
    handler: async ({ params }) => releaseDetail(deps.store, params.hardware, params.version),
  });
  router.add({
    method: 'GET',
    url: '/v1/releases/:hardware/:version/manifest',
    action: 'release.read',
    summary: 'the signed manifest bytes, as published (what an approver signs)',
    params: releaseParams,
    raw: 'application/json',
    handler: async ({ params }) => releaseManifestBytes(deps.store, params.hardware, params.version),
  });
  router.add({
    method: 'POST',
    url: '/v1/releases/:hardware/:version/approve',
    action: 'release.approve',
    summary: "a second release signer's approval: its signature over the manifest bytes (made where its key is)",
    params: releaseParams,
    body: approveBody,
    audit: { target: (p) => `release:${p.hardware}@${p.version}`, reason: (b) => b?.reason },
    handler: async ({ params, body }) => {
      if (!deps.trustSigning) throw new OperatorError('UNAVAILABLE', 'this API holds no targets/online keys: approve with `ota release approve --key` on the trust host');
      try {
        return await approveReleaseBySignature(deps.store, deps.trustSigning, params.hardware, params.version, body);
      } catch (error) {
        if (error instanceof TrustError) throw new OperatorError('REFUSED', error.message);
        throw error;
      }
    },
  });
}
