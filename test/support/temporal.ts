// Starts one real Temporal dev server (the pinned CLI binary, SQLite in memory) for a test file.
// @temporalio/testing would download a server at run time; we point it at our binary instead.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { requireTool } from '../../platform/tools.js';
import type { TemporalConfig } from '../../schemas/config.js';

export const TEST_NAMESPACE = 'ota';

let runtimeInstalled = false;

/** extraArgs: more dev-server flags, e.g. dynamic config that makes a test reach a limit quickly. */
export async function startTemporal(extraArgs: string[] = []): Promise<{ env: TestWorkflowEnvironment; config: (taskQueue: string) => TemporalConfig }> {
  if (!runtimeInstalled) {
    // Keep test output readable: the SDK logs every worker state change at INFO.
    Runtime.install({ logger: new DefaultLogger('WARN') });
    runtimeInstalled = true;
  }
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: requireTool('temporal') },
      namespace: TEST_NAMESPACE,
      ip: '127.0.0.1',
      extraArgs: [
        '--dynamic-config-value',
        'frontend.enableUpdateWorkflowExecution=true',
        // The rollout workflow's search attributes (temporal-dev.yml registers the same).
        ...['OtaRolloutState', 'OtaRelease', 'OtaHardware'].flatMap((name) => ['--search-attribute', `${name}=Keyword`]),
        ...extraArgs,
      ],
    },
  });
  return { env, config: (taskQueue) => ({ address: env.address, namespace: TEST_NAMESPACE, taskQueue }) };
}
