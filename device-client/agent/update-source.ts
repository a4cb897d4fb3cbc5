// Where releases come from. The agent only ever trusts what it verifies itself, so a source just
// hands over bytes: the signed manifest with its Sigstore bundle, and artifact streams by location.
// Implementations: an offline bundle (offline-bundle.ts); the gateway check-in comes later.
import type { Readable } from 'node:stream';
import type { MetadataReader } from '../../trust/metadata-store.js';

export interface CandidateRelease {
  version: string;
  /** Raw manifest bytes exactly as signed: verified before anything in them is read. */
  manifestBytes: Buffer;
  /** The manifest's Sigstore bundle (JSON text). */
  bundle: string;
  /** Where the manifest came from, for messages. */
  origin: string;
  /** The fleet's TUF metadata as this source has it (tuf-sources.ts); absent: the source carries none. */
  tuf?: MetadataReader;
}

export interface UpdateSource {
  /** For logs and the install journal, e.g. "offline bundle /media/usb/update". */
  readonly description: string;
  /** The release to consider for this hardware: `version` if given, else the newest offered; null if none. */
  release(hardwareId: string, version?: string): Promise<CandidateRelease | null>;
  /** A manifest location (store key or URL) as a stream of the stored bytes. */
  /**
   * `pinned`: the digest and length of an artifact the manifest does not list but verified metadata
   * does (an on-demand delta's TUF target); a source that downloads needs them to pin the download.
   */
  open(location: string, pinned?: { sha256: string; length: number }): Promise<Readable>;
  /** Whether the source carries this location (evidence files an offline bundle may have); absent: it never does. */
  has?(location: string): Promise<boolean>;
  /** Temporary files (an unpacked tar, downloads) go away. */
  close(): Promise<void>;
}
