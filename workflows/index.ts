// Every workflow the worker registers. Workflow code is deterministic and does no I/O:
// all contact with the world goes through activities/.
export { healthWorkflow } from './health.js';
export { releaseWorkflow, releaseProgressQuery } from './release.js';
export { rolloutWorkflow, rolloutStatusQuery, pauseSignal, resumeSignal, approveUpdate, abortUpdate } from './rollout.js';
export { trustRefreshWorkflow } from './trust-refresh.js';
export { deltaDispatchWorkflow, deltaWorkflow } from './delta.js';
