// Chooses the backend named by the validated store configuration.
import type { StoreConfig } from '../schemas/config.js';
import type { ArtifactStore } from './artifact-store.js';
import { LocalArtifactStore } from './local-store.js';
import { S3ArtifactStore, type S3StoreOptions } from './s3-store.js';

export function openArtifactStore(config: StoreConfig, s3Options: S3StoreOptions = {}): ArtifactStore {
  switch (config.kind) {
    case 'local':
      return new LocalArtifactStore(config.dir);
    case 's3':
      return new S3ArtifactStore(config, s3Options);
  }
}
