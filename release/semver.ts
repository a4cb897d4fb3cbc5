// SemVer 2.0.0 precedence (section 11), to order releases; build metadata is ignored. Inputs are already checked
// against the manifest's SemVer pattern; `semver` throws on anything it cannot parse.
import compare from 'semver/functions/compare.js';

export function compareSemver(a: string, b: string): number {
  return compare(a, b);
}
