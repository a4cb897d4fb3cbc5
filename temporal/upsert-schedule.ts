// Creates a Temporal Schedule, or updates the one already there to the given spec, action and policies:
// what the worker does at every start, so a second start never duplicates a schedule.
import { ScheduleAlreadyRunning, type Client, type ScheduleOptions, type ScheduleOptionsStartWorkflowAction, type ScheduleSpec } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';

export type ScheduleOutcome = 'created' | 'updated';

export async function upsertSchedule<W extends Workflow>(client: Client, scheduleId: string, spec: ScheduleSpec, action: ScheduleOptionsStartWorkflowAction<W>, policies: NonNullable<ScheduleOptions['policies']>): Promise<ScheduleOutcome> {
  try {
    await client.schedule.create({ scheduleId, spec, action, policies });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(scheduleId).update<W>((previous) => ({ ...previous, spec, action, policies: { ...previous.policies, ...policies } }));
  return 'updated';
}
