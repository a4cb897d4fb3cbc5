// The anti-rollback floor is held twice (agent state, floor record): editing or deleting the agent
// state never lowers it, a missing or corrupt state is refused with its own code instead of being
// read as a fresh device, re-provisioning keeps it, and a signed reset statement lowers it once.
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentStatePath, securityFloorPath } from '../../../device-client/agent/agent-state.js';
import { provisionDevice } from '../../../device-client/agent/provision.js';
import { deviceStatus } from '../../../device-client/agent/status.js';
import type { PublishedFixture, SampleRelease } from '../../support/device-releases.js';
import { createSimDevice, type SimDevice } from '../../support/device-sim.js';
import { deviceSnapshot, signFloorReset, unsignedFixture } from '../../support/device-state-snapshot.js';
import type { SigningKey } from '../../../signing/keys.js';

let root: string;
let fixture: PublishedFixture;
let factory: SampleRelease;
let releaseKey: SigningKey;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ota-floor-'));
  ({ fixture, factory, releaseKey } = await unsignedFixture(root));
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

let counter = 0;
const newDevice = (securityVersion = 3, config?: Record<string, unknown>) => createSimDevice(join(root, `device-${++counter}`), fixture, { factory, securityVersion, config });
const codeOf = (promise: Promise<unknown>) => promise.then(() => 'no error', (error: Error & { code?: string }) => error.code ?? error.message);
const reprovision = async (sim: SimDevice, options: Partial<Parameters<typeof provisionDevice>[1]> = {}) =>
  provisionDevice(await sim.open(), { slot: 'A', version: '1.0.0', length: factory.length, writeBootState: true, force: true, ...options });

describe('anti-rollback floor: held twice, never lowered by a reset', () => {
  it('first provisioning writes the floor into the agent state and the floor record', async () => {
    const sim = await newDevice(3);
    const state = JSON.parse(await readFile(agentStatePath(sim.config.stateDir), 'utf8'));
    const record = JSON.parse(await readFile(securityFloorPath(sim.config.stateDir), 'utf8'));
    expect(state.securityVersion).toBe(3);
    expect(record).toMatchObject({ format: 'edge-ota.security-floor.v1', deviceId: sim.config.deviceId, floor: 3, resets: 0 });
    expect((await deviceStatus(await sim.open())).floorResets).toBe(0);
  });

  it('editing the agent state down does not lower the floor the agent uses', async () => {
    const sim = await newDevice(3);
    const path = agentStatePath(sim.config.stateDir);
    const state = JSON.parse(await readFile(path, 'utf8'));
    await writeFile(path, JSON.stringify({ ...state, securityVersion: 0, slots: { ...state.slots, A: { ...state.slots.A, securityVersion: 0 } } }));
    expect((await deviceStatus(await sim.open())).securityVersion).toBe(3);
    // Deleting the record instead: the agent state's floor holds, and the next write restores the record.
    const other = await newDevice(3);
    await unlink(securityFloorPath(other.config.stateDir));
    expect((await deviceStatus(await other.open())).securityVersion).toBe(3);
    await (await other.open()).agentState.update((s) => s);
    expect(JSON.parse(await readFile(securityFloorPath(other.config.stateDir), 'utf8')).floor).toBe(3);
  });

  it('a deleted agent state is AGENT_STATE_MISSING (not a fresh device), a corrupt one AGENT_STATE_CORRUPT; nothing is written', async () => {
    const sim = await newDevice(3);
    await unlink(agentStatePath(sim.config.stateDir));
    let before = await deviceSnapshot(sim);
    expect(before.securityVersion).toBe('AGENT_STATE_MISSING');
    expect(await codeOf((await sim.open()).agentState.update((s) => s))).toBe('AGENT_STATE_MISSING');
    expect(await deviceSnapshot(sim)).toEqual(before);

    await writeFile(agentStatePath(sim.config.stateDir), '{"format": "edge-ota.agent-state.v1", "securityVe');
    before = await deviceSnapshot(sim);
    expect(before.securityVersion).toBe('AGENT_STATE_CORRUPT');
    // Not even `provision` without --force replaces it.
    expect(await codeOf(provisionDevice(await sim.open(), { slot: 'A', version: '1.0.0' }))).toBe('AGENT_STATE_CORRUPT');
    expect(await deviceSnapshot(sim)).toEqual(before);

    // With neither file the device was never provisioned: its own code.
    await rm(sim.config.stateDir, { recursive: true });
    expect(await codeOf((await sim.open()).agentState.read())).toBe('NOT_PROVISIONED');
  });

  it('provisioning again keeps the floor: after a wipe of the agent state, with --force, over a corrupt state', async () => {
    const sim = await newDevice(3);
    await unlink(agentStatePath(sim.config.stateDir));
    // No --security-version: the device's floor.
    expect((await provisionDevice(await sim.open(), { slot: 'A', version: '1.0.0', length: factory.length })).state.securityVersion).toBe(3);
    expect((await reprovision(sim, { securityVersion: 4 })).state.securityVersion).toBe(4);
    await writeFile(agentStatePath(sim.config.stateDir), 'not json');
    expect((await reprovision(sim)).state.securityVersion).toBe(4);
    expect((await deviceStatus(await sim.open())).securityVersion).toBe(4);
  });

  it('a signed reset statement for this device lowers the floor, once; the record counts it', async () => {
    const sim = await newDevice(3);
    const expires = new Date(Date.now() + 3600_000).toISOString();
    const statement = await signFloorReset(join(sim.dir, 'reset.json'), releaseKey, { deviceId: sim.config.deviceId, floor: 1, sequence: 0, expires });
    const result = await reprovision(sim, { securityVersion: 1, floorReset: { statementPath: statement } });
    expect(result).toMatchObject({ previousFloor: 3, floorReset: true, state: { securityVersion: 1 } });
    const status = await deviceStatus(await sim.open());
    expect(status).toMatchObject({ securityVersion: 1, floorResets: 1 });
    expect(JSON.parse(await readFile(securityFloorPath(sim.config.stateDir), 'utf8'))).toMatchObject({ floor: 1, resets: 1 });
  });

  it('the floor record can live outside the state dir (securityFloorPath): wiping the whole state dir keeps the floor', async () => {
    const sim = await newDevice(3, { securityFloorPath: 'nv/floor.json' });
    expect(JSON.parse(await readFile(join(sim.dir, 'nv', 'floor.json'), 'utf8')).floor).toBe(3);
    await rm(sim.config.stateDir, { recursive: true });
    expect(await codeOf((await sim.open()).agentState.read())).toBe('AGENT_STATE_MISSING');
    expect(await codeOf(reprovision(sim, { securityVersion: 0 }))).toBe('SECURITY_FLOOR_LOWER_REFUSED');
  });
});
