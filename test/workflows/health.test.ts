// Proves the wiring against a real Temporal dev server: our worker factory bundles the
// workflows, polls the task queue, runs the activity, and the client helper gets the answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { describeWorker } from '../../activities/health.js';
import { connectClient, TemporalUnavailableError } from '../../temporal/client.js';
import { createWorker } from '../../temporal/worker.js';
import { healthWorkflow } from '../../workflows/index.js';
import { startTemporal } from '../support/temporal.js';

describe('health workflow on a real Temporal dev server', () => {
  let env: TestWorkflowEnvironment;
  let config: Awaited<ReturnType<typeof startTemporal>>['config'];

  beforeAll(async () => {
    ({ env, config } = await startTemporal());
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('runs through client, server, worker and activity', async () => {
    const cfg = config('health-test');
    const { worker, connection } = await createWorker(cfg, { describeWorker });
    const { client, close } = await connectClient(cfg);
    try {
      const result = await worker.runUntil(
        client.workflow.execute(healthWorkflow, { taskQueue: cfg.taskQueue, workflowId: `health-${Date.now()}`, args: ['ping'] }),
      );
      expect(result.ok).toBe(true);
      expect(result.echo).toBe('ping');
      expect(result.taskQueue).toBe('health-test');
      expect(result.worker.pid).toBe(process.pid);
      expect(result.worker.activityAttempt).toBe(1);
      expect(Date.parse(result.worker.time)).not.toBeNaN();
    } finally {
      await close();
      await connection.close();
    }
  });

  it('names the address and the fix when Temporal is unreachable', async () => {
    const err = await connectClient({ address: '127.0.0.1:1', namespace: 'ota', taskQueue: 'x' }, { connectTimeoutMs: 1000 }).catch((e) => e);
    expect(err).toBeInstanceOf(TemporalUnavailableError);
    expect(err.message).toContain('127.0.0.1:1');
    expect(err.message).toContain('ota dev up');
  });
});
