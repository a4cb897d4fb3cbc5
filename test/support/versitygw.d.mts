// Types for versitygw.mjs (plain JS so the bench loads it with plain node).

export interface VersityGw {
  endpoint: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Directory versitygw serves; each subdirectory is a bucket. */
  rootDir: string;
  /** The gateway process (the bench reads its peak RSS). */
  pid: number;
  stop(): Promise<void>;
}

export function launchVersityGw(options: { binary: string; freePort: () => Promise<number>; parentDir?: string }): Promise<VersityGw>;
