// Activities: the only door from workflows to the world (stores, signing, fleet, deltas).
export { describeWorker, type WorkerDescription } from './health.js';
