// Turns Temporal's nested failures (WorkflowFailedError -> ActivityFailure -> ApplicationFailure)
// into the one message a person needs: the innermost cause, with the activity that raised it.
import { ActivityFailure, WorkflowFailedError } from '@temporalio/client';

export function failureMessage(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  let innermost = err as Error;
  while (current instanceof Error) {
    if (current instanceof ActivityFailure && current.activityType) parts.push(`step ${current.activityType}`);
    innermost = current;
    current = (current as Error & { cause?: unknown }).cause;
  }
  if (!(err instanceof WorkflowFailedError) && innermost === err) return (err as Error)?.message ?? String(err);
  return parts.length ? `${parts.join(' > ')}: ${innermost.message}` : innermost.message;
}
