// Durations in policies are written for people ("90s", "15m", "2h", "1d"); workflows need milliseconds.
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a duration such as 30s, 15m, 2h or 1d`);
  return Math.round(Number(match[1]) * UNIT_MS[match[2]!]!);
}
