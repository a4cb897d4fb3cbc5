// Bad input is not worth retrying: raise it as a non-retryable failure with a clear message.
import { ApplicationFailure } from '@temporalio/activity';

export function releaseInputError(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'ReleaseInputError');
}
