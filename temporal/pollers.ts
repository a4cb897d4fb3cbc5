// Whether any worker currently polls a task queue, so the CLI can run one in-process when
// nobody else would pick the work up (CI jobs, the embedded demo).
import type { Client } from '@temporalio/client';

/** temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW */
const TASK_QUEUE_TYPE_WORKFLOW = 1;

export async function hasWorkflowPollers(client: Client, namespace: string, taskQueue: string): Promise<boolean> {
  const response = await client.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: TASK_QUEUE_TYPE_WORKFLOW,
  });
  return (response.pollers ?? []).length > 0;
}
