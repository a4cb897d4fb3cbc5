// /v1/devices: the fleet, one device with its reports and heartbeats, revoke and retry; pending
// factory-identity devices accepted or rejected; quarantines listed and released.
import { z } from 'zod';
import type { OperatorDeps } from '../deps.js';
import { acceptFleetDevice, deviceDetail, listAdmissionSummaries, listDeviceSummaries, listQuarantineSummaries, rejectFleetDevice, releaseFleetQuarantine, retryFleetDevice, revokeFleetDevice } from '../fleet-service.js';
import { labelsSchema } from '../../schemas/device-api.js';
import { channelSchema } from '../../schemas/manifest.js';
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
  router.add({
    method: 'GET',
    url: '/v1/admissions',
    action: 'fleet.read',
    summary: 'factory-identity devices waiting for an operator (pending) or refused (rejected)',
    handler: async () => ({ requests: await listAdmissionSummaries(deps.fleet) }),
  });
  router.add({
    method: 'POST',
    url: '/v1/devices/:id/accept',
    action: 'fleet.accept',
    summary: "admit a pending device with these selectors (default: its factory CA's)",
    params: deviceParams,
    body: z.object({ channel: channelSchema.optional(), labels: labelsSchema.optional(), reason: z.string().max(1000).optional() }).strict(),
    audit: { target: (p) => p.id, reason: (b) => b?.reason },
    handler: async ({ params, body }) => acceptFleetDevice(deps.fleet, params.id, { channel: body.channel, labels: body.labels }),
  });
  router.add({
    method: 'POST',
    url: '/v1/devices/:id/reject',
    action: 'fleet.reject',
    summary: 'refuse a pending device from now on (its request stays, as rejected)',
    params: deviceParams,
    body: z.object({ reason: z.string().max(1000).optional() }).strict(),
    audit: { target: (p) => p.id, reason: (b) => b?.reason },
    handler: async ({ params }) => rejectFleetDevice(deps.fleet, params.id),
  });
  router.add({
    method: 'GET',
    url: '/v1/quarantines',
    action: 'fleet.read',
    summary: 'open quarantines with their evidence (all=true: released ones too), newest first',
    query: z.object({ all: z.enum(['true', 'false']).optional() }),
    handler: async ({ query }) => ({ quarantines: await listQuarantineSummaries(deps.fleet, query.all === 'true') }),
  });
  router.add({
    method: 'POST',
    url: '/v1/devices/:id/quarantine/release',
    action: 'fleet.quarantine-release',
    summary: "end a device's open quarantine after remediation (recorded with who released it)",
    params: deviceParams,
    body: z.object({ note: z.string().max(1000).optional() }).strict(),
    audit: { target: (p) => p.id, reason: (b) => b?.note },
    handler: async ({ principal, params, body }) => releaseFleetQuarantine(deps.fleet, params.id, principal.subject, body.note ?? null),
  });
}
