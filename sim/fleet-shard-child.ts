// One process of a ShardedFleet (sim/fleet-shards.ts): holds a shard of protocol devices and runs
// them on the parent's orders. Device keys are made here and never leave: the parent gets only the
// preauthorizations (public keys and selectors) to record on the operator side.
import type { BehaviourModel } from './protocol-device.js';
import { ProtocolFleet, preauthorizationsOf, simIdentities, type SimIdentity } from './protocol-fleet.js';
import type { BehaviourSpec, ShardInit, ShardReply, ShardRequest } from './fleet-shards.js';

const send = (reply: ShardReply): void => void process.send!(reply);
const peakRssBytes = () => process.resourceUsage().maxRSS * 1024;

let init: ShardInit | undefined;
/** Device conversations that failed (HTTP error, reset connection): the device retries at its next round. */
let deviceErrors = 0;
let identities: SimIdentity[] = [];
let fleet: ProtocolFleet | undefined;

function behaviourOf(spec: BehaviourSpec): BehaviourModel {
  const failing = spec.failing;
  return (_device, release) => {
    if (!failing?.versions.includes(release.version)) return { result: 'commit' };
    send({ type: 'failure', at: Date.now() });
    return { result: 'fail', kind: failing.kind, fallsBack: failing.fallsBack };
  };
}

/** Check-ins that could not use the held nextNonce (none held, or expired) and fetched one first. */
const fetchedNonces = (of: ProtocolFleet): number => of.devices.reduce((n, d) => n + d.checkinNonces.fetched, 0);

async function handle(request: ShardRequest): Promise<void> {
  switch (request.type) {
    case 'init': {
      init = request.init;
      identities = simIdentities({ count: init.count, from: init.from, idPrefix: init.idPrefix });
      return send({ type: 'preauthorizations', list: preauthorizationsOf(identities, init.hardwareId, init.channel) });
    }
    case 'enroll': {
      if (!init) throw new Error('enroll before init');
      // Enrollment must succeed for every device (fleet is unset until then, so the error propagates);
      // afterwards a failed conversation is counted and the device retries at its next round.
      let reportedAt = Date.now();
      fleet = await ProtocolFleet.enroll({
        ...init,
        identities,
        // Progress at most every 5 s: a 100,000-device enrollment takes half an hour.
        onEnrolled: (enrolled) => {
          if (Date.now() - reportedAt < 5_000) return;
          reportedAt = Date.now();
          send({ type: 'enrolling', enrolled });
        },
        onDeviceError: (_id, error) => {
          if (!fleet) throw error;
          deviceErrors++;
        },
      });
      return send({ type: 'enrolled' });
    }
    case 'tick': {
      if (!fleet) throw new Error('tick before enroll');
      const errorsBefore = deviceErrors;
      const fetchedBefore = fetchedNonces(fleet);
      const outcomes = await fleet.tick(behaviourOf(request.behaviour));
      const actions: Record<string, number> = {};
      for (const outcome of outcomes) if (outcome) actions[outcome.action] = (actions[outcome.action] ?? 0) + 1;
      return send({ type: 'ticked', actions, versions: fleet.versions(), deviceErrors: deviceErrors - errorsBefore, freshNonces: fetchedNonces(fleet) - fetchedBefore, peakRssBytes: peakRssBytes() });
    }
    case 'exit':
      send({ type: 'bye', peakRssBytes: peakRssBytes() });
      process.disconnect();
      return;
  }
}

process.on('message', (request: ShardRequest) => {
  handle(request).catch((error: unknown) => send({ type: 'error', message: error instanceof Error ? error.message : String(error) }));
});
process.on('disconnect', () => process.exit(0));
