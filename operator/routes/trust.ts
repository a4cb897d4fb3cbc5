// /v1/trust: the fleet's TUF repository as `ota trust show` describes it.
import { describeRepository } from '../../trust/describe-repository.js';
import { TufNotInitializedError } from '../../trust/errors.js';
import { readRepository } from '../../trust/metadata-store.js';
import type { OperatorDeps } from '../deps.js';
import { OperatorError } from '../errors.js';
import type { OperatorRouter } from '../route.js';

export function registerTrustRoutes(router: OperatorRouter, deps: OperatorDeps): void {
  router.add({
    method: 'GET',
    url: '/v1/trust',
    action: 'trust.read',
    summary: "the fleet's TUF repository: roles, keys, thresholds, versions, expiry, release signers",
    handler: async () => {
      try {
        return { store: deps.store.location, ...describeRepository((await readRepository(deps.store)).repo) };
      } catch (error) {
        if (error instanceof TufNotInitializedError) throw new OperatorError('NOT_FOUND', error.message);
        throw error;
      }
    },
  });
}
