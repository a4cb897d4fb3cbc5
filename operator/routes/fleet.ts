// /v1/devices: the fleet, one device with its reports and heartbeats, revoke and retry.
import { z } from 'zod';
import type { OperatorDeps } from '../deps.js';
import { deviceDetail, listDeviceSummaries, retryFleetDevice, revokeFleetDevice } from '../fleet-service.js';
import type { OperatorRouter } from '../route.js';

const deviceParams = z.object({ id: z.string().min(1).max(128) });

export function registerFleetRoutes(router: OperatorRouter, deps: OperatorDeps): void {
  router.add({
    method: 'GET',
    url: '/v1/devices',
    action: 'fleet.read',
    summary: 'enrolled devices with their last state',
    handler: async () => ({ devices: await listDeviceSummaries(deps.fleet) }),
  });
  router.add({
    method: 'GET',
    url: '/v1/devices/:id',
    action: 'fleet.read',
    summary: 'one device: its state, why a release is not offered to it, its latest reports and heartbeats',
    params: deviceParams,
    handler: async ({ params }) => deviceDetail(deps.fleet, params.id),
  });
  router.add({
    method: 'POST',
    url: '/v1/devices/:id/revoke',
    action: 'fleet.revoke',
    summary: 'refuse every further request from a device (its history stays)',
    params: deviceParams,
    body: z.object({ reason: z.string().min(1).max(1000) }).strict(),
    audit: { target: (p) => p.id, reason: (b) => b?.reason },
    handler: async ({ params, body }) => revokeFleetDevice(deps.fleet, params.id, body.reason),
  });
  router.add({
    method: 'POST',
    url: '/v1/devices/:id/retry',
    action: 'fleet.retry',
    summary: 'offer a release that failed on a device again (its failures stay counted)',
    params: deviceParams,
    body: z.object({ release: z.string().max(64).optional(), reason: z.string().max(1000).optional() }).strict(),
    audit: { target: (p) => p.id, reason: (b) => b?.reason },
    handler: async ({ params, body }) => retryFleetDevice(deps.fleet, params.id, body.release),
  });
}
