// Types for image-pairs.mjs (plain JS so the bench loads it with plain node).

export interface ImagePairOptions {
  oldPath: string;
  newPath: string;
  targetBytes: number;
  seed?: number;
  rebuiltFraction?: number;
}

export function prng(seed: number): () => number;

export function collectElfFiles(targetBytes: number, options?: { minSize?: number; maxSize?: number; spare?: number }): { path: string; size: number }[];

export function buildImagePair(options: ImagePairOptions): { binaries: number; rebuilt: number; added: string; removed: string; oldBytes: number; newBytes: number };

export function buildTarImagePair(options: ImagePairOptions): { members: number; rebuilt: number; oldBytes: number; newBytes: number };
