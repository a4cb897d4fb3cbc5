// Rollout activities: everything the rollout workflow needs from the world goes through the
// fleet store (assignments the gateway obeys, ring health aggregates) and the release index.
import { ApplicationFailure, log } from '@temporalio/activity';
import type { FleetStore } from '../../fleet/index.js';
import { parseManifest } from '../../schemas/manifest.js';
import { readChannelIndexes } from '../../release/catalog.js';
import { parseDuration } from '../../rollout/duration.js';
import { resolveSize, ringTargets } from '../../rollout/policy.js';
import { assignRings } from '../../rollout/ring-assignment.js';
import { choosePreviousRelease } from '../../rollout/previous-release.js';
import type { Decision, RolloutPlan, RolloutRequest } from '../../rollout/types.js';
import type { RingHealth } from '../../rollout/verdict.js';
import type { ArtifactStore } from '../../stores/index.js';

export interface RolloutDeps {
  fleet: () => Promise<FleetStore>;
  store: () => ArtifactStore;
}

function inputError(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'RolloutInputError');
}

export function rolloutActivities(deps: RolloutDeps) {
  return {
    /** Checks the release, refuses a second open rollout, assigns every targeted device to a ring (on hold). */
    async prepareRollout(request: RolloutRequest): Promise<RolloutPlan> {
      const fleet = await deps.fleet();
      const indexes = await readChannelIndexes(deps.store(), request.hardwareId);
      const releases = indexes.get(request.channel) ?? [];
      const release = releases.find((r) => r.version === request.releaseVersion);
      if (!release) throw inputError(`release ${request.releaseVersion} of ${request.hardwareId} is not published on channel ${request.channel}`);
      const open = await fleet.otherOpenRollout(request.hardwareId, request.rolloutId);
      if (open) throw inputError(`rollout ${open} of ${request.hardwareId} is still open; finish or abort it first`);
      await fleet.closeOtherRollbacks(request.hardwareId, request.rolloutId);
      const manifest = parseManifest(await deps.store().getBytes(release.manifest.location));
      const selector = { hardwareId: request.hardwareId, labels: request.policy.target.labels, channel: request.channel };
      // Quarantined devices (docs/attestation.md) are left out of rollouts: they get only their remediation release.
      const quarantined = await fleet.quarantinedDeviceIds();
      const devices = (await fleet.devicesBySelector(selector)).filter((d) => !quarantined.has(d.id));
      // The rollback target is what the targeted devices run (before this rollout gates anything of its own).
      const { previous, eligibility: rollback, note: previousNote } = choosePreviousRelease(
        { version: request.releaseVersion, securityVersion: manifest.securityVersion },
        await fleet.runningVersions(selector),
        releases,
        await fleet.gatedVersions(request.hardwareId, request.channel),
      );
      const ids = devices.map((d) => d.id);
      const targets = ringTargets(request.policy, ids.length);
      const rings = assignRings(
        request.rolloutId,
        devices.map((d) => ({ id: d.id, labels: d.labels })),
        targets.map((target, i) => ({ target, labels: request.policy.rings[i]!.labels })),
      );
      await fleet.createRollout({
        id: request.rolloutId,
        hardwareId: request.hardwareId,
        channel: request.channel,
        releaseVersion: request.releaseVersion,
        previousVersion: previous?.version ?? null,
        maxConcurrentInstalls: request.policy.maxConcurrentInstalls,
      });
      // Every planned device has its ring before the plan below opens the rollout to late joiners: a
      // device checking in meanwhile (at any gateway) would otherwise join a ring the plan did not give it.
      for (let i = 0; i < rings.length; i++) {
        await fleet.assignDevices(request.rolloutId, rings[i]!.map((deviceId) => ({ deviceId, ring: request.policy.rings[i]!.name })), 'hold');
      }
      // The plan stays in the fleet store so the gateway can place devices that enroll while the rollout is open.
      await fleet.recordRingPlan(
        request.rolloutId,
        request.policy.target.labels,
        request.policy.rings.map((ring) => ({
          name: ring.name,
          size: ring.size,
          labels: ring.labels ?? {},
          installDeadlineSeconds: ring.installDeadline ? Math.max(1, Math.round(parseDuration(ring.installDeadline) / 1000)) : null,
        })),
        request.policy.exposureBudget,
      );
      return {
        fleetSize: ids.length,
        ringSizes: rings.map((r) => r.length),
        exposureBudget: resolveSize(request.policy.exposureBudget, ids.length),
        previousVersion: previous?.version ?? null,
        ...(previousNote ? { previousVersionNote: previousNote } : {}),
        rollbackAllowed: rollback.allowed,
        rollbackBlockedReason: rollback.blockedReason,
      };
    },

    /** The ring's devices may now get the release at check-in. */
    async openRing(rolloutId: string, ring: string): Promise<number> {
      const fleet = await deps.fleet();
      await fleet.markRingOpened(rolloutId, ring);
      return fleet.setAssignmentAction(rolloutId, 'offer', { ring, reason: `ring ${ring} opened` });
    },

    /**
     * The ring's install outcomes; with `window` (the ring's opening time, workflow time) also its
     * heartbeats since then: post-commit failures of the ring's devices and the control cohort
     * (devices of the same rollout still on the previous release, same window).
     */
    async readRingHealth(rolloutId: string, ring: string, window?: { sinceMs: number; silentAfterSeconds?: number }): Promise<RingHealth> {
      const fleet = await deps.fleet();
      const deadline = (await fleet.rolloutRings(rolloutId)).find((r) => r.name === ring)?.installDeadlineSeconds ?? null;
      const health = await fleet.ringReportCounts(rolloutId, ring, { installDeadlineSeconds: deadline });
      // Every attempt counts: a device that failed and then committed on a retry stays failed, and
      // one that reported no outcome by its install deadline is a timed-out failure.
      const failed = health.outcomes.failed + health.outcomes.timedOut;
      // Devices that already ran the release when the ring opened have nothing to report about
      // it; their check-ins show them healthy on it, so they count as committed.
      const alreadyOn = await fleet.devicesOnRelease(rolloutId, { ring, unreportedOnly: true });
      const result: RingHealth = {
        assigned: health.assigned,
        reported: health.outcomes.committed + alreadyOn + failed,
        committed: health.outcomes.committed + alreadyOn,
        failed,
        failuresByKind: { ...health.everFailedByKind },
      };
      if (window) {
        const cohorts = await fleet.ringCohorts(rolloutId, ring, { since: new Date(window.sinceMs) }, { silentAfterSeconds: window.silentAfterSeconds });
        result.control = cohorts.control;
        result.heartbeats = cohorts.release;
        result.postCommitFailed = cohorts.postCommitOnly;
        result.failuresByKind.silent = cohorts.silent.release;
      }
      return result;
    },

    /** Halt: nobody else gets the release; devices already on it stay until a person decides. */
    async haltRollout(rolloutId: string, reason: string): Promise<void> {
      const fleet = await deps.fleet();
      await fleet.setRolloutState(rolloutId, 'halted');
      await fleet.setAssignmentAction(rolloutId, 'hold', { reason: `halted: ${reason}` });
    },

    /** Rollback: every assigned device is told to return to the previous release (a no-op for those still on it). */
    async rollbackRollout(rolloutId: string, reason: string): Promise<void> {
      const fleet = await deps.fleet();
      await fleet.setRolloutState(rolloutId, 'rolling-back');
      await fleet.setAssignmentAction(rolloutId, 'rollback', { reason: `rolled back: ${reason}` });
    },

    /** Devices of the rollout whose last known version is still the rolled-back release. */
    async devicesStillOnRelease(rolloutId: string): Promise<number> {
      return (await deps.fleet()).devicesOnRelease(rolloutId);
    },

    /** A finished rollback: the release stays gated (never offered), no device is told to move any more. */
    async closeRolledBack(rolloutId: string): Promise<void> {
      await (await deps.fleet()).setRolloutState(rolloutId, 'aborted');
    },

    async finishRollout(rolloutId: string): Promise<void> {
      await (await deps.fleet()).setRolloutState(rolloutId, 'finished');
    },

    async abortRollout(rolloutId: string, reason: string): Promise<void> {
      const fleet = await deps.fleet();
      await fleet.setAssignmentAction(rolloutId, 'hold', { reason: `aborted: ${reason}` });
      await fleet.setRolloutState(rolloutId, 'aborted');
    },

    /** The decision and its figures are this activity's input, so they live in the workflow history. */
    async recordRolloutDecision(rolloutId: string, decision: Decision): Promise<void> {
      log.info(`rollout ${rolloutId}: ${decision.ring ? `[${decision.ring}] ` : ''}${decision.action}: ${decision.reason}`);
    },
  };
}
