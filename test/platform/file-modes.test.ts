// Secrets and state are owner-only: the PGlite fleet database folder is 0700 (PGlite creates its
// own files 0666 less the umask, so the folder is what keeps others out, even one made 0755
// before), and a provisioned device's state folder is 0700 with every file in it 0600.
import { mkdirSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetStore } from '../../fleet/fleet-store.js';
import type { PublishedFixture, SampleRelease } from '../support/device-releases.js';
import { createSimDevice } from '../support/device-sim.js';
import { unsignedFixture } from '../support/device-state-snapshot.js';

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

/** Every file and folder under `dir` with its mode. */
async function walk(dir: string): Promise<Array<{ path: string; dir: boolean; mode: number }>> {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    out.push({ path, dir: entry.isDirectory(), mode: await modeOf(path) });
    if (entry.isDirectory()) out.push(...(await walk(path)));
  }
  return out;
}

let root: string;
let fixture: PublishedFixture;
let factory: SampleRelease;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ota-modes-'));
  ({ fixture, factory } = await unsignedFixture(root));
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('file modes', () => {
  it('the PGlite fleet database folder is owner-only, also when it existed with a wider mode', async () => {
    const fresh = join(root, 'fleet-fresh');
    const existing = join(root, 'fleet-existing');
    mkdirSync(existing, { mode: 0o755 });
    for (const dir of [fresh, existing]) {
      const store = await FleetStore.open(`pglite:${dir}`);
      await store.close();
      expect(await modeOf(dir), dir).toBe(0o700);
    }
  });

  it("a provisioned device's state: folders 0700, every file 0600", async () => {
    const sim = await createSimDevice(join(root, 'device'), fixture, { factory, securityVersion: 1 });
    await (await sim.open()).agentState.update((s) => s);
    const entries = await walk(sim.config.stateDir);
    expect(entries.filter((e) => !e.dir).length).toBeGreaterThan(0);
    expect(await modeOf(sim.config.stateDir)).toBe(0o700);
    expect(entries.filter((e) => (e.dir ? e.mode !== 0o700 : e.mode !== 0o600)).map((e) => `${e.path} ${e.mode.toString(8)}`)).toEqual([]);
  });
});
