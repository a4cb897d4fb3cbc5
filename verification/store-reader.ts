// Reads manifest locations (store keys) from an artifact store.
import type { Readable } from 'node:stream';
import type { ArtifactStore } from '../stores/index.js';
import type { ArtifactReader } from './verify-release.js';

export function storeReader(store: ArtifactStore): ArtifactReader {
  return {
    open: (location: string): Promise<Readable> => store.getStream(location),
    read: (location: string) => store.getBytes(location),
  };
}
