// Freshness on a real Temporal dev server: the trust-refresh Schedule (created idempotently, as the
// worker does at start) runs trustRefreshWorkflow, whose activity re-signs snapshot and timestamp of a
// real repository in the artifact store with the online key, valid for the configured hours.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities/index.js';
import { loadConfig } from '../../config/load-config.js';
import type { Config } from '../../schemas/config.js';
import { openArtifactStore, type ArtifactStore } from '../../stores/index.js';
import { connectClient } from '../../temporal/client.js';
import { ensureTrustRefreshSchedule, TRUST_REFRESH_SCHEDULE_ID } from '../../temporal/trust-schedule.js';
import { createWorker } from '../../temporal/worker.js';
import { signingKeyFile, trustKeyPaths } from '../../trust/key-files.js';
import { readRepository, writeRepository } from '../../trust/metadata-store.js';
import { createRepository } from '../../trust/repository.js';
import { newTufKey } from '../support/fleet-tuf.js';
import { startTemporal } from '../support/temporal.js';
import { trustRefreshWorkflow } from '../../workflows/trust-refresh.js';

let dir: string;
let env: TestWorkflowEnvironment;
let config: Config;
let store: ArtifactStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ota-trust-refresh-'));
  const temporal = await startTemporal();
  env = temporal.env;
  config = loadConfig({ env: { OTA_STATE_DIR: join(dir, 'ota') }, cwd: dir });
  config.temporal = temporal.config('trust-refresh');
  store = openArtifactStore(config.store);
  const paths = trustKeyPaths(config.trust, config.signing.keyPath);
  const onlineKey = await signingKeyFile(paths.online);
  await writeRepository(store, createRepository({ rootKeys: [newTufKey()], threshold: 1, signers: [newTufKey()], targetsKeys: [newTufKey()], onlineKey, now: new Date() }));
}, 120_000);

afterAll(async () => {
  await store?.close();
  await env?.teardown();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('TUF freshness on a Temporal Schedule', () => {
  it('the schedule is created once (a second start updates it), and re-signs snapshot and timestamp on its interval', async () => {
    const { worker, connection } = await createWorker(config.temporal, createActivities(config));
    const { client, close } = await connectClient(config.temporal);
    try {
      await worker.runUntil(async () => {
        const first = (await readRepository(store)).repo;
        expect(await ensureTrustRefreshSchedule(client, config.temporal.taskQueue, { refreshEveryMinutes: 1, expiryHours: 2 })).toBe('created');
        // A restarted worker with another interval updates the same schedule.
        expect(await ensureTrustRefreshSchedule(client, config.temporal.taskQueue, { refreshEveryMinutes: 2 / 60, expiryHours: 2 })).toBe('updated');
        const description = await client.schedule.getHandle(TRUST_REFRESH_SCHEDULE_ID).describe();
        expect(description.spec.intervals?.[0]?.every).toBe(2000);
        const ids: string[] = [];
        for await (const s of client.schedule.list()) ids.push(s.scheduleId);
        expect(ids.filter((id) => id === TRUST_REFRESH_SCHEDULE_ID)).toHaveLength(1);

        const started = Date.now();
        let now = first;
        while (now.timestamp.signed.version < first.timestamp.signed.version + 2) {
          if (Date.now() - started > 60_000) throw new Error(`the schedule re-signed only up to timestamp v${now.timestamp.signed.version} in 60 s`);
          await new Promise((r) => setTimeout(r, 500));
          now = (await readRepository(store)).repo;
        }
        // Same targets, new snapshot and timestamp, valid for the configured 2 h.
        expect(now.targets.signed.version).toBe(first.targets.signed.version);
        expect(now.snapshot.signed.version).toBeGreaterThan(first.snapshot.signed.version);
        const validFor = new Date(now.timestamp.signed.expires).getTime() - Date.now();
        expect(validFor).toBeGreaterThan(1.9 * 3_600_000);
        expect(validFor).toBeLessThanOrEqual(2 * 3_600_000);
        await client.schedule.getHandle(TRUST_REFRESH_SCHEDULE_ID).delete();
      });
    } finally {
      await close();
      await connection.close();
    }
  }, 120_000);

  it('without a repository the workflow says so and writes nothing', async () => {
    const empty = loadConfig({ env: { OTA_STATE_DIR: join(dir, 'empty') }, cwd: dir });
    empty.temporal = { ...config.temporal, taskQueue: 'trust-refresh-empty' };
    const { worker, connection } = await createWorker(empty.temporal, createActivities(empty));
    try {
      const result = await worker.runUntil(env.client.workflow.execute(trustRefreshWorkflow, { taskQueue: empty.temporal.taskQueue, workflowId: 'refresh-empty', args: [{ expiryHours: 24 }] }));
      expect(result).toMatchObject({ refreshed: false, reason: expect.stringMatching(/no TUF repository/) });
    } finally {
      await connection.close();
    }
  }, 60_000);
});
