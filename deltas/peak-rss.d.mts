/** This process's peak resident set size in bytes (VmHWM on Linux, getrusage maxRSS elsewhere). */
export function peakRssBytes(): number;
