// Types for npm-release.mjs (plain JS so the bench loads it with plain node).

export function binary(cacheDir: string, pkg: string, version: string, member: string): Buffer;
