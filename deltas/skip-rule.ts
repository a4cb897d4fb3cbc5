// A delta is only worth publishing when it is clearly smaller than the compressed full image:
// otherwise devices pay for patching (RAM, flash wear, time) without saving bandwidth.

export const DEFAULT_MAX_DELTA_RATIO = 0.9;

function mb(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(bytes < 10_000_000 ? 2 : 1)} MB`;
}

/** The reason to skip, or undefined when deltaLength < maxRatio x fullCompressedLength. */
export function deltaSkipReason(deltaLength: number, fullCompressedLength: number, maxRatio = DEFAULT_MAX_DELTA_RATIO): string | undefined {
  if (!(maxRatio > 0)) throw new RangeError(`maxRatio must be > 0, got ${maxRatio}`);
  if (deltaLength < maxRatio * fullCompressedLength) return undefined;
  const percent = fullCompressedLength > 0 ? Math.round((deltaLength / fullCompressedLength) * 100) : Infinity;
  return `delta ${mb(deltaLength)} is ${percent}% of the compressed full image ${mb(fullCompressedLength)}; must be < ${Math.round(maxRatio * 100)}%`;
}
