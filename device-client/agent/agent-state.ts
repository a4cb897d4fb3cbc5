// The agent's own durable record, next to (not inside) the bootloader state: which image each
// slot holds, the stored security version (anti-rollback: it never goes down; written in the same
// atomic document as the slots, and held again by the floor record, state/security-floor.ts),
// the slot that was activated and awaits its boot check, and the outcome of the last update.
import { join } from 'node:path';
import { z } from 'zod';
import { slotNameSchema } from '../../schemas/device-api.js';
import { failureKindSchema } from '../../schemas/failure-kinds.js';
import { hardwareIdSchema, semverSchema, sha256HexSchema } from '../../schemas/manifest.js';
import type { SlotName } from '../boot/boot-state.js';
import { AgentStateError, readJsonFile, writeJsonFile } from '../state/json-file.js';
import { SecurityFloorStore } from '../state/security-floor.js';

const FORMAT = 'edge-ota.agent-state.v1';

/** A complete, verified image in a slot. */
export const slotImageSchema = z
  .object({ version: semverSchema, sha256: sha256HexSchema, length: z.int().min(1), securityVersion: z.int().min(0) })
  .strict();

export const updateEventSchema = z
  .object({
    kind: z.enum(['installed', 'committed', 'rolled-back', 'failed']),
    /** For rolled-back and failed: which stage failed. */
    failure: failureKindSchema.optional(),
    slot: slotNameSchema.optional(),
    version: semverSchema.optional(),
    reason: z.string().optional(),
    at: z.string(),
  })
  .strict();

/** A release that failed its boot check here (health check, or out of boot tries): not installed again from an offer until `ota-device retry`. */
export const failedReleaseSchema = z
  .object({
    version: semverSchema,
    imageSha256: sha256HexSchema.optional(),
    failure: z.enum(['health', 'boot']),
    reason: z.string(),
    at: z.string(),
  })
  .strict();

export const agentStateSchema = z
  .object({
    format: z.literal(FORMAT),
    hardwareId: hardwareIdSchema,
    /** null: the slot's content is unknown or incomplete (being written, or never provisioned). */
    slots: z.object({ A: slotImageSchema.nullable(), B: slotImageSchema.nullable() }).strict(),
    securityVersion: z.int().min(0),
    /** Installed and activated; committed or rolled back by the next boot check. */
    pendingBoot: z.object({ slot: slotNameSchema, activatedAt: z.string() }).strict().nullable(),
    lastEvent: updateEventSchema.nullable(),
    /** Releases that failed their boot check on this device (absent in states written before: none). */
    failedReleases: z.array(failedReleaseSchema).default([]),
  })
  .strict();

export type SlotImage = z.infer<typeof slotImageSchema>;
export type UpdateEvent = z.infer<typeof updateEventSchema>;
export type FailedRelease = z.infer<typeof failedReleaseSchema>;
export type AgentState = z.infer<typeof agentStateSchema>;

export function agentStatePath(stateDir: string): string {
  return join(stateDir, 'agent-state.json');
}

/** Where the floor record goes unless the config names another place (another partition, TPM NV later). */
export function securityFloorPath(stateDir: string): string {
  return join(stateDir, 'security-floor.json');
}

export class AgentStateStore {
  readonly path: string;
  readonly floor: SecurityFloorStore;

  constructor(
    stateDir: string,
    private readonly deviceId: string,
    floorPath = securityFloorPath(stateDir),
    /** With a TPM: the floor's third copy, an NV counter no file reset reaches (device-client/tpm/tpm-floor.ts). */
    readonly tpmFloor?: { read(): Promise<number>; raise(floor: number): Promise<void> },
  ) {
    this.path = agentStatePath(stateDir);
    this.floor = new SecurityFloorStore(floorPath);
  }

  /**
   * The state, with the higher of its own floor and the floor record's. A missing state is never
   * read as a fresh device once the floor record exists (AGENT_STATE_MISSING); a corrupt one is
   * refused (AGENT_STATE_CORRUPT), never replaced by defaults.
   */
  async read(): Promise<AgentState> {
    const state = await readJsonFile(this.path, agentStateSchema);
    const record = await this.floor.read();
    const tpmFloor = (await this.tpmFloor?.read()) ?? 0;
    if (!state) {
      if (record || tpmFloor > 0) {
        throw new AgentStateError(
          'AGENT_STATE_MISSING',
          `agent state ${this.path} is missing, but ${this.floor.path} says this device was provisioned (security floor ${Math.max(record?.floor ?? 0, tpmFloor)}): restore the state or provision again (the floor stays)`,
        );
      }
      throw new AgentStateError('NOT_PROVISIONED', `agent state ${this.path} does not exist: provision the device first (ota-device provision)`);
    }
    return { ...state, securityVersion: Math.max(state.securityVersion, record?.floor ?? 0, tpmFloor) };
  }

  async exists(): Promise<boolean> {
    return (await readJsonFile(this.path, agentStateSchema)) !== undefined;
  }

  /** Never lowers the floor: the record is raised first, so a cut before the state write keeps the higher floor. */
  async write(state: AgentState): Promise<void> {
    const parsed = agentStateSchema.parse(state);
    await this.tpmFloor?.raise(parsed.securityVersion);
    await this.floor.raise(this.deviceId, parsed.securityVersion);
    await writeJsonFile(this.path, parsed);
  }

  /**
   * Provisioning below the current floor, after verifyFloorReset accepted a statement: the state
   * first, the record last (a cut between them keeps the higher floor, and the unused statement still applies).
   */
  async writeLoweredFloor(state: AgentState, resetsBefore: number): Promise<void> {
    const parsed = agentStateSchema.parse(state);
    await writeJsonFile(this.path, parsed);
    await this.floor.lowerAfterReset(this.deviceId, parsed.securityVersion, resetsBefore);
  }

  async update(change: (state: AgentState) => AgentState): Promise<AgentState> {
    const current = await this.read();
    const next = change(structuredClone(current));
    // Anti-rollback: whatever the change did, the stored security version never goes down.
    next.securityVersion = Math.max(current.securityVersion, next.securityVersion);
    await this.write(next);
    return next;
  }
}

export function initialAgentState(hardwareId: string, slot: SlotName, image: SlotImage): AgentState {
  return {
    format: FORMAT,
    hardwareId,
    slots: { A: slot === 'A' ? image : null, B: slot === 'B' ? image : null },
    securityVersion: image.securityVersion,
    pendingBoot: null,
    lastEvent: null,
    failedReleases: [],
  };
}

export function event(kind: UpdateEvent['kind'], fields: Omit<UpdateEvent, 'kind' | 'at'> = {}): UpdateEvent {
  return { kind, ...fields, at: new Date().toISOString() };
}

/** Records that a release failed its boot check here (once per version: the latest failure wins). */
export function withFailedRelease(state: AgentState, failed: FailedRelease): AgentState {
  return { ...state, failedReleases: [...(state.failedReleases ?? []).filter((f) => f.version !== failed.version), failed] };
}

/** Why the agent will not install this offered release, if it failed its boot check here before. Pure. */
export function offerRefusal(state: Pick<AgentState, 'failedReleases'>, version: string): string | undefined {
  const failed = (state.failedReleases ?? []).find((f) => f.version === version);
  if (!failed) return undefined;
  return `${version} failed its ${failed.failure === 'health' ? 'health check' : 'boot'} on this device at ${failed.at} (${failed.reason}); not installed again until an operator runs \`ota-device retry --release ${version}\``;
}

/** `ota-device retry`: forgets the failures of one release (or all); returns the versions cleared. */
export function clearFailedReleases(state: AgentState, version?: string): { state: AgentState; cleared: string[] } {
  const list = state.failedReleases ?? [];
  const cleared = list.filter((f) => version === undefined || f.version === version).map((f) => f.version);
  return { state: { ...state, failedReleases: list.filter((f) => !cleared.includes(f.version)) }, cleared };
}
