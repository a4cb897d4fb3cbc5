// Hash algorithm names as CycloneDX spells them, from the spellings other formats use.

const CDX_ALGS = [
  'MD5', 'SHA-1', 'SHA-256', 'SHA-384', 'SHA-512', 'SHA3-256', 'SHA3-384', 'SHA3-512',
  'BLAKE2b-256', 'BLAKE2b-384', 'BLAKE2b-512', 'BLAKE3',
] as const;

/** "SHA256", "sha-256", "SHA-256" -> "SHA-256"; undefined for algorithms CycloneDX lacks. */
export function cdxHashAlgorithm(name: string): string | undefined {
  const squash = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]/g, '');
  return CDX_ALGS.find((a) => squash(a) === squash(name));
}
