// What the operator API's routes work with: the fleet store, the artifact store, Temporal (for
// rollouts) and the trust repository's online keys (for release approvals).
import type { Client } from '@temporalio/client';
import type { FleetStore } from '../fleet/fleet-store.js';
import type { ArtifactStore } from '../stores/index.js';
import type { OnlineSigning } from '../trust/repository.js';
import { OperatorError } from './errors.js';

export interface OperatorDeps {
  fleet: FleetStore;
  store: ArtifactStore;
  temporal?: { client: Client; taskQueue: string };
  /** The targets and online keys that re-sign targets when a release approval arrives. */
  trustSigning?: () => Promise<OnlineSigning>;
}

export function temporalOf(deps: OperatorDeps): { client: Client; taskQueue: string } {
  if (!deps.temporal) throw new OperatorError('UNAVAILABLE', 'this API runs without Temporal: rollouts are not available here');
  return deps.temporal;
}
