// The install flow, offline first:
//   verify the manifest (signature, expiry, hardware, security version, version)   no writes
//   check the SBOM/VEX/provenance the source carries against the manifest's digests no writes
//   stage the artifact into scratch and verify it; apply a bsdiff delta there      no writes
//   (an ops delta is applied into scratch after the journal began: it resumes from its checkpoints)
//   journal: started -> target forgotten, out of the boot rotation (markBad) -> invalidated
//   stream the image into the inactive slot, read it back, sha256 over the image length
//   record the slot's image -> written -> markActive(target, tries) -> activated
//   agent state: pending boot check; journal cleared
// A power cut anywhere leaves a bootable committed slot; the journal says how to go on.
// Each phase (journal begun, invalidated, written, activated, cleared) is made durable by commitPhase.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { chooseUpdateArtifact, type DeltaFormat } from '../../schemas/manifest.js';
import { withOnDemandDeltas } from '../../release/on-demand-delta.js';
import { chooseInstallTarget, markActive, markBad, type SlotName } from '../boot/boot-state.js';
import { sha256Of } from '../slots/slot-digest.js';
import { event, type SlotImage } from './agent-state.js';
import { outOfRotation } from './boot-writes.js';
import { commitPhase } from './commit-phase.js';
import { crashPoint } from './crash-points.js';
import { checkCarriedEvidence } from './evidence-check.js';
import type { Device } from './device.js';
import { InstallRefusedError } from './errors.js';
import { stepReached, type InstallJournal } from './install-journal.js';
import { verifyCandidate } from './release-verification.js';
import type { OpenSource } from './sources.js';
import { applyStagedOpsDelta } from './ops-delta-apply.js';
import { reclaimScratch } from './scratch.js';
import { stageDelta, stageFullImage, type StagedImage } from './stage-artifact.js';
import type { UpdateSource } from './update-source.js';
import { writeImageToSlot } from './write-slot.js';

export interface InstallRequest {
  source: UpdateSource;
  /** The bundle path or URI as the user gave it: recorded so a restarted agent can start over. */
  sourceRef: string;
  /** A specific version instead of the newest offered. */
  version?: string;
  /** Full image even when a delta from the installed image exists. */
  full?: boolean;
  /** A rollback: an older version is allowed; the stored security version still holds. */
  allowVersionDowngrade?: boolean;
  now?: Date;
  log?: (line: string) => void;
  /** The journal of the interrupted install being restarted: its ops checkpoint is resumed. */
  resume?: InstallJournal;
}

export type InstallResult =
  | { outcome: 'up-to-date'; version: string; slot: SlotName }
  | { outcome: 'installed'; version: string; slot: SlotName; artifact: 'full' | 'delta'; deltaFormat?: DeltaFormat; resumedFromOp?: number; reason?: string; tries: number }
  | { outcome: 'activated'; version: string; slot: SlotName; resumed: true }
  | { outcome: 'nothing-to-resume' };

export async function installUpdate(device: Device, request: InstallRequest): Promise<InstallResult> {
  const log = request.log ?? (() => undefined);
  const { config } = device;
  const booted = await device.bootedSlot();
  const bootState = await device.boot.read();
  if (!bootState.good[booted]) {
    throw new InstallRefusedError(`slot ${booted} is running a trial boot (not committed yet): run the boot check before installing another update`);
  }
  const agent = await device.agentState.read();
  if (agent.hardwareId !== config.hardwareId) {
    throw new InstallRefusedError(`agent state is for hardware ${agent.hardwareId}, the config says ${config.hardwareId}`);
  }
  const installed = agent.slots[booted];
  const candidate = await request.source.release(config.hardwareId, request.version);
  if (!candidate) throw new InstallRefusedError(`${request.source.description} has no release for hardware ${config.hardwareId}`);

  const { manifest, manifestSha256, tuf, onDemandDeltas } = await verifyCandidate(
    candidate,
    config,
    { hardwareId: config.hardwareId, channel: config.channel, version: installed?.version, securityVersion: agent.securityVersion, imageSha256: installed?.sha256 },
    request.now,
    request.allowVersionDowngrade,
  );
  log(`verified ${manifest.hardwareId} ${manifest.version} (security version ${manifest.securityVersion}) from ${candidate.origin}${tuf ? `; ${tuf}` : ''}`);
  // The manifest's deltas, then signed on-demand ones from images it has none for (docs/deltas.md, "On demand").
  const choice = chooseUpdateArtifact(withOnDemandDeltas(manifest, onDemandDeltas), installed?.sha256, request.full ? [] : config.deltas.formats);
  if (choice.kind === 'up-to-date') return { outcome: 'up-to-date', version: manifest.version, slot: booted };
  const evidence = await checkCarriedEvidence(request.source, manifest);
  if (evidence.length > 0) log(`checked the release's ${evidence.join(', ')} against the manifest's digests`);

  const target = chooseInstallTarget(bootState, booted);
  const image: SlotImage = { version: manifest.version, sha256: manifest.image.sha256, length: manifest.image.length, securityVersion: manifest.securityVersion };
  // Named after the release, so a restarted install finds the partial output of an ops apply.
  const resumeFrom = request.resume?.manifestSha256 === manifestSha256 ? request.resume.opsCheckpoint : undefined;
  const workDir = await prepareWorkDir(device.scratchDir, `install-${manifestSha256.slice(0, 16)}`, resumeFrom !== undefined);
  let resumedFromOp: number | undefined;
  try {
    const staged =
      choice.kind === 'delta'
        ? await stageDelta(request.source, choice.delta, manifest.image, { slot: device.slots[booted], image: installed! }, workDir)
        : await stageFullImage(request.source, manifest.image, workDir);
    const what = choice.kind === 'delta' ? `${choice.delta.format} delta from ${choice.delta.fromVersion}` : 'full image';
    log(`staged the ${what} (${choice.downloadLength} bytes), verified`);
    crashPoint('install:staged');

    const artifact = staged.kind === 'full' ? 'full' : 'delta';
    let journal = await commitPhase(device, {
      journal: { begin: { source: request.sourceRef, version: manifest.version, manifestSha256, booted, target, artifact, image, opsCheckpoint: resumeFrom } },
      crashPoint: 'install:journal-started',
    });
    try {
      let toWrite: StagedImage;
      if (staged.kind === 'ops-delta') {
        // Applied under the journal: its checkpoints are what a restart resumes from.
        const run = await applyStagedOpsDelta(device, staged, image, journal, log);
        ({ staged: toWrite, journal, resumedFromOp } = run);
        log(`applied the ops delta${run.resumedFromOp > 0 ? `, resumed at op ${run.resumedFromOp}` : ''}`);
        crashPoint('install:ops-applied');
      } else toWrite = staged;
      // Forget what the target held before touching it, and take it out of the boot rotation:
      // a half-written slot must never be a fallback.
      journal = await commitPhase(device, {
        agentState: (s) => ({ ...s, slots: { ...s.slots, [target]: null }, pendingBoot: s.pendingBoot?.slot === target ? null : s.pendingBoot }),
        agentStateCrashPoint: 'install:target-forgotten',
        boot: { label: 'install:invalidate', change: (s) => (outOfRotation(s, target) ? s : markBad(s, target)) },
        journal: { advance: journal, to: 'invalidated' },
        crashPoint: 'install:invalidated',
      });

      await writeImageToSlot(toWrite, image, device.slots[target], booted);
      log(`wrote ${image.length} bytes to slot ${target}; sha256 verified`);
      crashPoint('install:slot-verified');
      journal = await commitPhase(device, {
        agentState: (s) => ({ ...s, slots: { ...s.slots, [target]: image } }),
        journal: { advance: journal, to: 'written' },
        crashPoint: 'install:written',
      });
      await activate(device, journal);
    } catch (error) {
      // A clean failure: the target stays out of the rotation, the booted slot was never touched.
      await commitPhase(device, {
        agentState: (s) => ({ ...s, lastEvent: event('failed', { failure: 'install', slot: target, version: image.version, reason: (error as Error).message }) }),
        journal: { clear: true },
      });
      throw error;
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  const reason = choice.kind === 'full' ? choice.reason : undefined;
  const deltaFormat = choice.kind === 'delta' ? choice.delta.format : undefined;
  return { outcome: 'installed', version: image.version, slot: target, artifact: choice.kind, deltaFormat, resumedFromOp, reason, tries: config.bootTries };
}

/** The install's scratch folder; leftovers of other installs go (a resumed one keeps its own). */
async function prepareWorkDir(scratchDir: string, name: string, keep: boolean): Promise<string> {
  await reclaimScratch(scratchDir, ['install-'], keep ? name : undefined);
  const dir = join(scratchDir, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Switch boot to the written slot, then hand it to the boot check. */
async function activate(device: Device, journal: InstallJournal): Promise<void> {
  const activated = await commitPhase(device, {
    boot: { label: 'install:activate', change: (s) => markActive(s, journal.target, device.config.bootTries) },
    journal: { advance: journal, to: 'activated' },
    crashPoint: 'install:activated',
  });
  await finishActivation(device, activated);
}

/** Record the pending boot check and close the journal (idempotent: a restart may repeat it). */
export async function finishActivation(device: Device, journal: InstallJournal): Promise<void> {
  await commitPhase(device, {
    agentState: (s) => ({
      ...s,
      slots: { ...s.slots, [journal.target]: journal.image },
      pendingBoot: { slot: journal.target, activatedAt: new Date().toISOString() },
      lastEvent: event('installed', { slot: journal.target, version: journal.image.version }),
    }),
    agentStateCrashPoint: 'install:pending-recorded',
    journal: { clear: true },
    crashPoint: 'install:journal-cleared',
  });
  // The install is over: its work folder (staged artifact, base copy, patched image) goes now, also
  // when a restart or the boot path finished it after a cut.
  await reclaimScratch(device.scratchDir, ['install-']);
}

/**
 * After a restart: finish an install that got as far as a verified slot, or start it over from
 * its recorded source. Safe to call at any time; does nothing without a journal.
 */
export async function resumeInstall(device: Device, openSource: OpenSource, log?: (line: string) => void): Promise<InstallResult> {
  const journal = await device.journal.read();
  if (!journal) {
    // No install under way: anything in scratch is what a cut left behind (an unpacked bundle, a work folder).
    await reclaimScratch(device.scratchDir, ['bundle-', 'install-']);
    return { outcome: 'nothing-to-resume' };
  }
  const booted = await device.bootedSlot();
  const boot = await device.boot.read();
  const activated = () => ({ outcome: 'activated' as const, version: journal.version, slot: journal.target, resumed: true as const });

  // Only an activated slot gets a trial boot, so running from the target means activation happened.
  if ((booted === journal.target && stepReached(journal, 'written')) || stepReached(journal, 'activated')) {
    await finishActivation(device, journal);
    return activated();
  }
  if (journal.step === 'written') {
    const t = journal.target;
    if (boot.order[0] === t && boot.tries[t] > 0 && !boot.good[t]) {
      // The markActive write landed before the cut; the journal did not record it.
      await finishActivation(device, await commitPhase(device, { journal: { advance: journal, to: 'activated' } }));
      return activated();
    }
    if ((await sha256Of(device.slots[t], journal.image.length).catch(() => '')) === journal.image.sha256) {
      log?.(`resuming: slot ${t} holds ${journal.version}, verified; activating it`);
      await activate(device, journal);
      return activated();
    }
  }
  log?.(`resuming: the install of ${journal.version} stopped at "${journal.step}"; starting it over from ${journal.source}`);
  const source = await openSource(journal.source);
  try {
    return await installUpdate(device, { source, sourceRef: journal.source, version: journal.version, full: journal.artifact === 'full', log, resume: journal });
  } finally {
    await source.close();
  }
}
