// Describes the worker that ran the activity, so a health check shows which process answered.
import { hostname } from 'node:os';
import { Context } from '@temporalio/activity';

export interface WorkerDescription {
  hostname: string;
  pid: number;
  node: string;
  taskQueue: string;
  activityAttempt: number;
  time: string;
}

export async function describeWorker(): Promise<WorkerDescription> {
  const info = Context.current().info;
  return {
    hostname: hostname(),
    pid: process.pid,
    node: process.version,
    taskQueue: info.taskQueue,
    activityAttempt: info.attempt,
    time: new Date().toISOString(),
  };
}
