// Heartbeats with progress details for long steps. The SDK throttles what reaches the server,
// so calling this on every chunk is cheap; the details show up in `ota release publish`.
import { Context } from '@temporalio/activity';

export interface StepProgress {
  phase: string;
  bytes?: number;
  total?: number;
}

export function heartbeat(progress: StepProgress): void {
  try {
    Context.current().heartbeat(progress);
  } catch {
    // Outside an activity (direct calls in tests): nothing to report to.
  }
}

export function cancellationSignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}
