// The ops delta format (docs/delta-format.md): parallel generation, streaming resumable apply.
export { applyOpsDelta, DEFAULT_CHECKPOINT_BYTES, opsApplyCheckpointSchema, partialPathFor } from './apply.js';
export type { AppliedOpsDelta, ApplyOpsDeltaOptions, OpsApplyCheckpoint, OpsApplyProgress } from './apply.js';
export { OpsDeltaError } from './errors.js';
export { applyOpsDeltaNative, applyOpsDeltaWith, chooseOpsApplier, findNativeApplier, NATIVE_APPLIER } from './native-apply.js';
export type { ApplyOpsDeltaNativeOptions, ChosenOpsApplier, OpsApplierChoice, OpsApplierName } from './native-apply.js';
export type { OpsDeltaErrorCode } from './errors.js';
export * from './format.js';
export { DEFAULT_BLOCK_SIZE, DEFAULT_MAX_OP_BYTES, DEFAULT_MEMORY_BUDGET_BYTES, generateOpsDelta, workerMemoryEstimate } from './generate.js';
export type { GeneratedOpsDelta, GenerateOpsDeltaOptions, OpKindStats, OpsGenerateProgress } from './generate.js';
export { planOps } from './plan.js';
export type { PlannedOp, PlanInput } from './plan.js';
export { readTarLayout } from './tar-layout.js';
export { generateVerifiedOpsDelta } from './verified-delta.js';
export type { GenerateVerifiedOpsDeltaOptions, VerifiedOpsDeltaResult } from './verified-delta.js';
