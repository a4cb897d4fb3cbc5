// Walks an ops patch's op records (docs/delta-format.md): where each record and its payload lie,
// for tests that inspect or damage a patch.
import { decodeHeader, decodeOp, HEADER_BYTES, OP_RECORD_BYTES, type OpRecord } from '../../deltas/ops/index.js';

export interface OpLayout {
  op: OpRecord;
  /** Offset of the op record; its payload ends at `end`. */
  at: number;
  end: number;
}

export function opLayout(patch: Buffer): OpLayout[] {
  const layout: OpLayout[] = [];
  let pos = HEADER_BYTES;
  for (let i = 0; i < decodeHeader(patch).opCount; i++) {
    const op = decodeOp(patch.subarray(pos, pos + OP_RECORD_BYTES));
    layout.push({ op, at: pos, end: pos + OP_RECORD_BYTES + op.payloadLength });
    pos += OP_RECORD_BYTES + op.payloadLength;
  }
  return layout;
}
