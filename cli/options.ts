// Option value parsers shared by the `ota` and `ota-device` commands.

/** A non-negative integer option: decimal digits only (no sign, exponent, hex or blanks), within the safe range. */
export function parseNonNegativeInt(flag: string, raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) throw new Error(`${flag}: expected a non-negative integer, got "${raw}"`);
  return n;
}
